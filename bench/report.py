#!/usr/bin/env python3
"""Print the targets table and the raw numbers of one bench/run.sh run.

Usage: report.py RESULTS

RESULTS contains the lines that bench/run.sh collected: each load.sh output line
prefixed with `database=... server=... connection=...`, an `error=...` line
for each load.sh run that failed, and one `peak_rss_kib=...` line per
database. A check whose numbers are missing is reported as not measured. Every ratio is taken from this file, so
all numbers of a table come from the same run. Prints Markdown on stdout.
"""

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

DATABASE_TITLES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
SERVER_TITLES = {"ours": "axum-knox", "baseline": "baseline-axum", "peer": "knox-peer"}

# Statuses that load.sh's contract check must print for a server that authenticates.
EXPECTED_CONTRACT = {"me": "200", "logout": "204", "me_after_logout": "401"}

# The status each scenario must get from our server and from knox-peer. The
# baseline returns 200 to every request, and only its me_valid is used.
EXPECTED_STATUS = {"me_valid": 200, "me_many_tokens": 200, "login": 200, "me_invalid": 401}

RSS_LIMIT_MIB = 64
P99_LIMIT_MS = 5.0


@dataclass
class Results:
    """The parsed content of one RESULTS file."""

    # Databases in the order they were run (a dict keeps insertion order).
    databases: dict = field(default_factory=dict)
    # Load by (database, server, connection, scenario).
    loads: dict = field(default_factory=dict)
    # Peak RSS of our server in KiB, by database.
    peak_rss: dict = field(default_factory=dict)
    # Contract checks whose statuses differ from EXPECTED_CONTRACT.
    broken: list = field(default_factory=list)
    # load.sh runs that failed.
    errors: list = field(default_factory=list)


@dataclass
class Load:
    """One load.sh scenario line."""

    scenario: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    sock_errors: int
    status: int

    def problem(self):
        """Describe why this measurement cannot be trusted, or return None."""
        expected = EXPECTED_STATUS[self.scenario]
        if self.status != expected:
            return f"{self.scenario}: probe status {self.status}, expected {expected}"
        failed = self.requests - self.non2xx if expected >= 400 else self.non2xx
        if failed:
            return f"{self.scenario}: {failed:,} of {self.requests:,} answers were not {expected}"
        return None


@dataclass
class Check:
    """One cell group of the targets table: one check on one database."""

    measured: str
    target: str
    passed: bool
    problems: list

    @classmethod
    def missing(cls, target):
        return cls("not measured", target, False, [])

    def result(self):
        if self.measured == "not measured":
            return "**not measured**"
        if self.problems:
            return "invalid: " + "; ".join(self.problems)
        if self.target == "none":
            return "no target"
        return "pass" if self.passed else "**fail**"


def parse(path):
    """Read RESULTS into a Results."""
    results = Results()
    for line in Path(path).read_text().splitlines():
        line, _, error = line.partition(" error=")
        fields = dict(word.split("=", 1) for word in line.split() if "=" in word)
        database = fields.get("database")
        if database not in DATABASE_TITLES:
            continue
        results.databases.setdefault(database, None)
        if error:
            results.errors.append(
                f"{SERVER_TITLES[fields['server']]} on {DATABASE_TITLES[database]}, "
                f"{fields['connection']}: {error}"
            )
        elif "peak_rss_kib" in fields:
            results.peak_rss[database] = int(fields["peak_rss_kib"])
        elif fields.get("check") == "contract" and fields["server"] != "baseline":
            got = {name: fields.get(name) for name in EXPECTED_CONTRACT}
            if got != EXPECTED_CONTRACT:
                server = SERVER_TITLES[fields["server"]]
                results.broken.append(f"{server} on {DATABASE_TITLES[database]}: {got}")
        elif "scenario" in fields:
            key = (database, fields["server"], fields["connection"], fields["scenario"])
            results.loads[key] = Load(
                scenario=fields["scenario"],
                rps=float(fields["rps"]),
                p50_ms=float(fields["p50_ms"]),
                p99_ms=float(fields["p99_ms"]),
                requests=int(fields["requests"]),
                non2xx=int(fields["non2xx"]),
                sock_errors=int(fields["sock_errors"]),
                status=int(fields["status"]),
            )
    return results


def rps(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def ratio_check(numerator, denominator, minimum, validate=(True, True)):
    """Compare numerator.rps / denominator.rps with `minimum`.

    `validate` selects which of the two measurements get their statuses
    checked. The baseline returns a constant 200, so its statuses are not.
    """
    if numerator is None or denominator is None:
        return Check.missing(f"≥ {minimum:g}")
    ratio = numerator.rps / denominator.rps if denominator.rps else 0.0
    problems = [
        problem
        for load, checked in zip((numerator, denominator), validate)
        if checked and (problem := load.problem())
    ]
    measured = f"{ratio:.3g} ({rps(numerator.rps)} ÷ {rps(denominator.rps)} rps)"
    return Check(measured, f"≥ {minimum:g}", ratio >= minimum, problems)


def checks_for(database, results):
    """Build the rows of the targets table for one database, in table order."""

    def get(server, connection, scenario):
        return results.loads.get((database, server, connection, scenario))

    ours_valid = get("ours", "keepalive", "me_valid")
    rows = [
        (
            "`me_valid` ÷ baseline-axum `me_valid`",
            ratio_check(
                ours_valid,
                get("baseline", "keepalive", "me_valid"),
                0.5 if database == "sqlite" else 0.3,
                validate=(True, False),
            ),
        ),
        (
            "`me_many_tokens` ÷ our own `me_valid`",
            ratio_check(get("ours", "keepalive", "me_many_tokens"), ours_valid, 0.95),
        ),
        (
            "`me_invalid` ÷ our own `me_valid`",
            ratio_check(get("ours", "keepalive", "me_invalid"), ours_valid, 0.9),
        ),
        (
            "`login` ÷ knox-peer `login`, both with a fast password hasher",
            ratio_check(get("ours", "keepalive", "login"), get("peer", "keepalive", "login"), 20),
        ),
        (
            "`me_valid` ÷ knox-peer `me_valid`, both with `CONN_CLOSE=1`",
            ratio_check(get("ours", "close", "me_valid"), get("peer", "close", "me_valid"), 15),
        ),
    ]

    rss_target = f"≤ {RSS_LIMIT_MIB} MiB"
    if database in results.peak_rss:
        peak_mib = results.peak_rss[database] / 1024
        rss = Check(f"{peak_mib:.1f} MiB", rss_target, peak_mib <= RSS_LIMIT_MIB, [])
    else:
        rss = Check.missing(rss_target)
    rows.append(("peak RSS of our server during the run", rss))

    # The p99 target holds on SQLite only; PostgreSQL's value is for information.
    latency_target = f"< {P99_LIMIT_MS:g} ms" if database == "sqlite" else "none"
    if ours_valid is None:
        latency = Check.missing(latency_target)
    else:
        p99 = ours_valid.p99_ms
        latency = Check(f"{p99:.2f} ms", latency_target, p99 < P99_LIMIT_MS, [])
    rows.append(("p99 latency of our `me_valid`", latency))
    return rows


def machine():
    """Describe the machine and the commit, for the header of the report."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "-C", str(root), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory_kib / 1024 / 1024:.1f} GiB memory; "
        f"commit {commit or 'unknown'}; load.sh DURATION={os.environ.get('DURATION', '10s')} "
        f"CONNECTIONS={os.environ.get('CONNECTIONS', '64')} THREADS={os.environ.get('THREADS', '2')}"
    )


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RESULTS")
    results = parse(sys.argv[1])
    databases = list(results.databases)
    if not databases:
        sys.exit(f"{sys.argv[1]}: no results in this file")

    print(f"Machine: {machine()}")
    print()
    header = ["check"]
    for database in databases:
        title = DATABASE_TITLES[database]
        header += [f"{title} target", f"{title} measured", f"{title} result"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))

    columns = [checks_for(database, results) for database in databases]
    met = total = 0
    for row in zip(*columns):
        cells = [row[0][0]]
        for _, check in row:
            cells += [check.target, check.measured, check.result()]
            if check.target != "none":
                total += 1
                met += check.passed and not check.problems
        print("| " + " | ".join(cells) + " |")
    print()
    print(f"{met} of {total} targets met.")
    for contract in results.broken:
        print(f"Contract check failed, expected {EXPECTED_CONTRACT}: {contract}")
    for error in results.errors:
        print(f"Not measured: {error}")

    print()
    print("| database | server | connections | scenario | rps | p50 ms | p99 ms | requests | non-2xx | socket errors | probe status |")
    print("|" + " --- |" * 11)
    for (database, server, connection, scenario), load in results.loads.items():
        mode = "close per request" if connection == "close" else "keep-alive"
        print(
            f"| {DATABASE_TITLES[database]} | {SERVER_TITLES[server]} | {mode} | {scenario} | {rps(load.rps)} "
            f"| {load.p50_ms:.2f} | {load.p99_ms:.2f} | {load.requests:,} | {load.non2xx:,} "
            f"| {load.sock_errors:,} | {load.status} |"
        )


if __name__ == "__main__":
    main()
