//! The handlers behind a `#[knox_view]` router: login, refresh, logout and logout-all.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

use crate::crypto;
use crate::extract::Auth;
use crate::header::{decode_basic, parse_scheme, SchemeCredentials};
use crate::knox::{IssuedRefreshToken, IssuedToken, Knox, NewSessionRefresh};
use crate::rejection::{Challenge, KnoxRejection, RejectionKind};
use crate::store::{NewRefreshToken, RotationOutcome};
use crate::view::{refresh_policy, Context, KnoxHooks, ViewAction};

/// Authenticates HTTP Basic credentials against the user backend, as DRF's
/// `BasicAuthentication` does. Every failure is a 401 with a Basic challenge,
/// and a failed login never reveals whether the username exists.
///
/// # Errors
///
/// A 401 [`KnoxRejection`] for missing, malformed or wrong credentials and for
/// an inactive user; a 503 when the user store fails.
pub async fn authenticate_basic<U: Clone + Send + Sync + 'static>(
    knox: &Knox<U>,
    request: &Parts,
) -> Result<U, KnoxRejection> {
    let reject = |kind| KnoxRejection::new(kind, Some(Challenge::Basic));
    let header = request
        .headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();

    let encoded = match parse_scheme(header, "Basic") {
        SchemeCredentials::NotThisScheme => return Err(reject(RejectionKind::MissingCredentials)),
        SchemeCredentials::Empty => {
            return Err(reject(RejectionKind::BasicHeaderWithoutCredentials))
        }
        SchemeCredentials::ContainsSpaces => {
            return Err(reject(RejectionKind::BasicCredentialsContainSpaces))
        }
        SchemeCredentials::Present(encoded) => encoded,
    };
    let Some(credentials) = decode_basic(encoded) else {
        return Err(reject(RejectionKind::BasicCredentialsNotDecodable));
    };

    let users = knox.users();
    match users
        .verify_credentials(&credentials.username, &credentials.password)
        .await
    {
        // An inactive user gets the same response as a wrong password, as Django's
        // ModelBackend gives, so the response reveals nothing about the account.
        Ok(Some(user)) if users.is_active(&user) => Ok(user),
        Ok(_) => {
            tracing::debug!(target: "knox", "login with invalid credentials");
            Err(reject(RejectionKind::InvalidCredentials))
        }
        Err(error) => Err(KnoxRejection::store_unavailable(&error)),
    }
}

/// Builds the router of a view: `POST login`, `POST refresh`, `POST logout`
/// and `POST logoutall`. `refresh` returns 404 while refresh tokens are off
/// for the view.
pub fn view_router<V, S>() -> Router<S>
where
    V: KnoxHooks,
    S: Clone + Send + Sync + 'static,
    Knox<V::User>: FromRef<S>,
{
    Router::new()
        .route("/login", post(login::<V>))
        .route("/refresh", post(refresh::<V>))
        .route("/logout", post(logout::<V>))
        .route("/logoutall", post(logout_all::<V>))
}

fn context<'a, V: KnoxHooks>(
    view: &V,
    knox: &'a Knox<V::User>,
    user: &'a V::User,
    request: &'a Parts,
    action: ViewAction,
) -> Context<'a, V::User> {
    Context {
        user,
        request,
        knox,
        now: knox.now(),
        extra: view.context(request),
        action,
    }
}

/// Responds 200 with a body that contains fresh credentials, which no cache may keep.
fn credentials_response(body: serde_json::Map<String, Value>) -> Response {
    let headers = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    (StatusCode::OK, headers, Json(Value::Object(body))).into_response()
}

async fn login<V: KnoxHooks>(State(knox): State<Knox<V::User>>, request: Parts) -> Response {
    let view = V::VIEW;
    let user = match view.authenticate(&knox, &request).await {
        Ok(user) => user,
        Err(rejection) => return rejection.into_response(),
    };

    let ctx = context(&view, &knox, &user, &request, ViewAction::Login);
    let ttl = view.token_ttl(&ctx);
    let limit = view.token_limit_per_user(&ctx);
    let refresh = refresh_policy::<V>(knox.settings()).map(|_| {
        let family_ttl = view.refresh_token_ttl(&ctx);
        NewSessionRefresh {
            family: view.create_refresh_family(&ctx, family_ttl),
            token: view.create_refresh_token(&ctx),
        }
    });
    let issued = match view.create_token(&ctx, ttl, limit, refresh).await {
        Ok(issued) => issued,
        Err(rejection) => return rejection.into_response(),
    };
    if issued.refresh.is_some() {
        view.add_refresh_token(&ctx, &issued);
    }
    view.user_logged_in(&ctx, &issued);

    credentials_response(view.post_response_data(&ctx, &issued))
}

/// Reads `{"refresh_token": "..."}`, naming the problem of a bad body.
fn presented_refresh_token(
    body: Result<Json<Value>, JsonRejection>,
) -> Result<String, KnoxRejection> {
    let invalid =
        |detail: String| KnoxRejection::new(RejectionKind::InvalidRequestBody(detail), None);
    let Json(body) = body.map_err(|rejection| match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            invalid("Unsupported media type: send `Content-Type: application/json`.".to_owned())
        }
        // The body text is not echoed: it may hold a token.
        JsonRejection::JsonSyntaxError(_) | JsonRejection::JsonDataError(_) => {
            invalid("JSON parse error: the body is not valid JSON.".to_owned())
        }
        _ => invalid("The request body could not be read.".to_owned()),
    })?;

    let Value::Object(fields) = body else {
        return Err(invalid(
            "Expected a JSON object with a `refresh_token` field.".to_owned(),
        ));
    };
    match fields.get("refresh_token") {
        Some(Value::String(token)) => Ok(token.clone()),
        None | Some(Value::Null) => Err(invalid("`refresh_token` is required.".to_owned())),
        Some(_) => Err(invalid("`refresh_token` must be a string.".to_owned())),
    }
}

async fn refresh<V: KnoxHooks>(
    State(knox): State<Knox<V::User>>,
    request: Parts,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    // The Authorization header is never read here: clients send their expired
    // access token along, and refresh must still work.
    let Some(policy) = refresh_policy::<V>(knox.settings()) else {
        return KnoxRejection::new(RejectionKind::RefreshDisabled, None).into_response();
    };
    match rotate::<V>(&knox, &request, body, policy.rules).await {
        Ok(response) => response,
        Err(rejection) => rejection.into_response(),
    }
}

async fn rotate<V: KnoxHooks>(
    knox: &Knox<V::User>,
    request: &Parts,
    body: Result<Json<Value>, JsonRejection>,
    rules: crate::store::RotationRules,
) -> Result<Response, KnoxRejection> {
    let view = V::VIEW;
    // The refresh token is a token credential, so its 401s challenge with the token scheme.
    let invalid_token =
        || KnoxRejection::new(RejectionKind::InvalidToken, Some(knox.token_challenge()));
    let presented = presented_refresh_token(body)?;
    if presented.is_empty() || presented.len() > crate::knox::MAXIMUM_PRESENTED_TOKEN_LENGTH {
        return Err(invalid_token());
    }

    // Authenticate the token by its full digest before touching its family.
    let digest = crypto::hash_token(presented.as_bytes());
    let found = knox
        .store()
        .find_refresh_token(&digest)
        .await
        .map_err(|error| KnoxRejection::store_unavailable(&error))?;
    let Some(found) = found.filter(|found| crypto::digests_match(&found.digest, &digest)) else {
        return Err(invalid_token());
    };
    let user = match knox.users().load_user(&found.user_id).await {
        Ok(Some(user)) if knox.users().is_active(&user) => user,
        Ok(_) => {
            return Err(KnoxRejection::new(
                RejectionKind::InactiveUser,
                Some(knox.token_challenge()),
            ))
        }
        Err(error) => return Err(KnoxRejection::store_unavailable(&error)),
    };

    let ctx = context(&view, knox, &user, request, ViewAction::Refresh);
    let ttl = view.token_ttl(&ctx);
    let prefix = view.token_prefix(&ctx);
    let (access, access_record) = knox
        .generate_access_token(&found.user_id, prefix, ttl)
        .map_err(KnoxRejection::from)?;
    let next = view.create_refresh_token(&ctx);
    let next_record = NewRefreshToken {
        digest: next.digest.clone(),
        token_key: next.token_key.clone(),
    };

    let outcome = knox
        .store()
        .rotate_refresh_token(&digest, &access_record, &next_record, &rules, ctx.now)
        .await
        .map_err(|error| KnoxRejection::store_unavailable(&error))?;
    if !matches!(
        outcome,
        RotationOutcome::Throttled { .. } | RotationOutcome::Missing
    ) {
        // Rotation deletes the old access token, and reuse or expiry the whole family.
        knox.invalidate_user(&found.user_id);
    }
    match outcome {
        RotationOutcome::Rotated {
            refresh,
            access_expiry,
        } => {
            tracing::info!(target: "knox", event = "token_refreshed", user.id = %refresh.user_id, family = %refresh.family_id, generation = refresh.generation, "refresh token rotated");
            let mut record = access_record;
            record.expiry = access_expiry;
            let issued = IssuedToken {
                token: access.token,
                record,
                refresh: Some(IssuedRefreshToken {
                    token: next.token,
                    record: refresh,
                }),
            };
            view.add_refresh_token(&ctx, &issued);
            Ok(credentials_response(view.post_response_data(&ctx, &issued)))
        }
        RotationOutcome::Missing => Err(invalid_token()),
        RotationOutcome::Expired { user_id } => {
            tracing::debug!(target: "knox", event = "refresh_family_expired", user.id = %user_id, "refresh family expired");
            Err(invalid_token())
        }
        RotationOutcome::Reused { user_id, family_id } => {
            tracing::warn!(target: "knox", event = "refresh_token_reused", user.id = %user_id, family = %family_id, "superseded refresh token presented; family revoked");
            Err(invalid_token())
        }
        RotationOutcome::Throttled { retry_after } => {
            let retry_after_secs =
                retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            Err(KnoxRejection::new(
                RejectionKind::Throttled {
                    retry_after_secs: retry_after_secs.max(1),
                },
                None,
            ))
        }
    }
}

async fn logout<V: KnoxHooks>(
    State(knox): State<Knox<V::User>>,
    auth: Auth<V::User>,
    request: Parts,
) -> Response {
    // With refresh tokens, this revokes the token's whole family.
    let revoked = match knox
        .revoke_token(auth.token.digest(), &auth.token.user_id)
        .await
    {
        Ok(revoked) => revoked,
        Err(error) => return KnoxRejection::store_unavailable(&error).into_response(),
    };
    respond_logged_out::<V>(&knox, &auth.user, &request, ViewAction::Logout, revoked)
}

async fn logout_all<V: KnoxHooks>(
    State(knox): State<Knox<V::User>>,
    auth: Auth<V::User>,
    request: Parts,
) -> Response {
    let revoked = match knox.revoke_all_for_user_id(&auth.token.user_id).await {
        Ok(revoked) => revoked,
        Err(error) => return KnoxRejection::store_unavailable(&error).into_response(),
    };
    respond_logged_out::<V>(&knox, &auth.user, &request, ViewAction::LogoutAll, revoked)
}

fn respond_logged_out<V: KnoxHooks>(
    knox: &Knox<V::User>,
    user: &V::User,
    request: &Parts,
    action: ViewAction,
    revoked: u64,
) -> Response {
    let view = V::VIEW;
    let ctx = context(&view, knox, user, request, action);
    view.user_logged_out(&ctx, revoked);
    view.post_response(&ctx)
}
