//! "Did you mean" suggestions for misspelled argument names.

/// Returns the candidate closest to `input` by edit distance, if it is close
/// enough to be a likely typo (at most a third of the input's length, and at least 1).
pub(crate) fn closest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (input.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|candidate| (edit_distance(input, candidate), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (i, left_char) in left.chars().enumerate() {
        let mut current = vec![i + 1; right.len() + 1];
        for (j, right_char) in right.iter().enumerate() {
            let substitution = previous[j] + usize::from(left_char != *right_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        let keys = ["ttl", "token_limit", "prefix"];
        assert_eq!(closest("tll", &keys), Some("ttl"));
        assert_eq!(closest("token_limt", &keys), Some("token_limit"));
        assert_eq!(closest("colour", &keys), None);
    }
}
