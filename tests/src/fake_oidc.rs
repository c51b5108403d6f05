//! An OpenID Connect provider on 127.0.0.1 that speaks the real protocol (../shared/wire/google-oidc.md):
//! discovery, JWKS, `/authorize` redirecting with `code` and `state`, `/token` checking client credentials and
//! the PKCE verifier and answering an RS256-signed ID token, and `/userinfo`. Tests script how the next ID token
//! is made wrong.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{Duration, Utc};
use openidconnect::core::{
    CoreHmacKey, CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AccessToken, Audience, EmptyAdditionalClaims, EndUserEmail, EndUserName, IssuerUrl,
    JsonWebKeyId, LocalizedClaim, Nonce, PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SIGNING_KEY: &str = include_str!("../fixtures/oidc-signing-key.pem");
const ROTATED_KEY: &str = include_str!("../fixtures/oidc-rotated-key.pem");

pub const CLIENT_ID: &str = "tabletalk-test-client";
pub const CLIENT_SECRET: &str = "tabletalk-test-secret";

/// How the next ID token is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFault {
    None,
    WrongAudience,
    WrongIssuer,
    Expired,
    WrongNonce,
    /// Signed with a key whose `kid` the JWKS does not (yet) publish.
    UnknownKid,
    AlgNone,
    Hs256,
    EmailUnverified,
    /// The ID token carries no email; `/userinfo` has it.
    EmailOnlyInUserinfo,
    /// The token endpoint answers 400 `invalid_grant`.
    InvalidGrant,
}

#[derive(Debug, Clone)]
struct Grant {
    nonce: String,
    code_challenge: String,
    redirect_uri: String,
}

/// The account the provider signs in.
#[derive(Debug, Clone)]
pub struct Account {
    pub subject: String,
    pub email: String,
    pub name: String,
}

#[derive(Debug)]
struct State {
    issuer: String,
    grants: HashMap<String, Grant>,
    account: Account,
    fault: TokenFault,
    /// Publish the rotated key in the JWKS too.
    rotated_key_published: bool,
    discovery_fails: bool,
    discovery_requests: u32,
    jwks_requests: u32,
}

/// The running fake provider; stopped when dropped with its runtime.
#[derive(Debug, Clone)]
pub struct FakeOidc {
    pub issuer: String,
    state: Arc<Mutex<State>>,
    _handle: ServerHandle,
}

fn rsa_key(pem: &str, kid: &str) -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(kid.to_owned()))).unwrap()
}

impl FakeOidc {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State {
            issuer: issuer.clone(),
            grants: HashMap::new(),
            account: Account {
                subject: "subject-1".into(),
                email: "ada@example.com".into(),
                name: "Ada Lovelace".into(),
            },
            fault: TokenFault::None,
            rotated_key_published: false,
            discovery_fails: false,
            discovery_requests: 0,
            jwks_requests: 0,
        }));
        let shared = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/jwks", web::get().to(jwks))
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
                .route("/userinfo", web::get().to(userinfo))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            issuer,
            state,
            _handle: handle,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// How the next ID tokens are made.
    pub fn set_fault(&self, fault: TokenFault) {
        self.with(|s| s.fault = fault);
    }

    /// The account the next sign-ins authenticate.
    pub fn set_account(&self, subject: &str, email: &str) {
        self.with(|s| {
            s.account = Account {
                subject: subject.into(),
                email: email.into(),
                name: "Test User".into(),
            }
        });
    }

    pub fn publish_rotated_key(&self) {
        self.with(|s| s.rotated_key_published = true);
    }

    pub fn set_discovery_fails(&self, fails: bool) {
        self.with(|s| s.discovery_fails = fails);
    }

    pub fn jwks_requests(&self) -> u32 {
        self.with(|s| s.jwks_requests)
    }
}

async fn discovery(state: web::Data<Mutex<State>>) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.discovery_requests += 1;
    if s.discovery_fails {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let base = &s.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile"],
    }))
}

async fn jwks(state: web::Data<Mutex<State>>) -> HttpResponse {
    let mut s = state.lock().unwrap();
    s.jwks_requests += 1;
    let mut keys = vec![rsa_key(SIGNING_KEY, "key-1").as_verification_key()];
    if s.rotated_key_published {
        keys.push(rsa_key(ROTATED_KEY, "key-2").as_verification_key());
    }
    HttpResponse::Ok().json(CoreJsonWebKeySet::new(keys))
}

async fn authorize(
    state: web::Data<Mutex<State>>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let q = query.into_inner();
    let param = |name: &str| q.get(name).cloned().unwrap_or_default();
    let complete = param("response_type") == "code"
        && param("client_id") == CLIENT_ID
        && param("code_challenge_method") == "S256"
        && param("scope").split(' ').any(|s| s == "openid")
        && !param("state").is_empty()
        && !param("nonce").is_empty();
    if !complete {
        return HttpResponse::BadRequest().body(format!("incomplete authorization request: {q:?}"));
    }
    let code = format!("code-{}", uuid::Uuid::now_v7().simple());
    let grant = Grant {
        nonce: param("nonce"),
        code_challenge: param("code_challenge"),
        redirect_uri: param("redirect_uri"),
    };
    state.lock().unwrap().grants.insert(code.clone(), grant);
    let location = format!(
        "{}?code={code}&state={}",
        param("redirect_uri"),
        param("state")
    );
    HttpResponse::Found()
        .insert_header(("location", location))
        .finish()
}

fn invalid_grant(description: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .json(json!({"error": "invalid_grant", "error_description": description}))
}

fn client_authenticated(req: &HttpRequest, form: &HashMap<String, String>) -> bool {
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let expected = format!("{CLIENT_ID}:{CLIENT_SECRET}");
    basic.as_deref() == Some(expected.as_str())
        || (form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET))
}

async fn token(
    req: HttpRequest,
    state: web::Data<Mutex<State>>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let form = form.into_inner();
    if !client_authenticated(&req, &form) {
        return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
    }
    let mut s = state.lock().unwrap();
    if s.fault == TokenFault::InvalidGrant {
        return invalid_grant("scripted failure");
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let Some(grant) = s.grants.remove(&code) else {
        return invalid_grant("unknown or used code");
    };
    if form.get("grant_type").map(String::as_str) != Some("authorization_code")
        || form.get("redirect_uri") != Some(&grant.redirect_uri)
    {
        return invalid_grant("bad grant_type or redirect_uri");
    }
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.code_challenge {
        return invalid_grant("PKCE verification failed");
    }
    let access_token = format!("access-{}", uuid::Uuid::now_v7().simple());
    let id_token = id_token(&s, &grant, &access_token);
    HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
    }))
}

fn id_token(s: &State, grant: &Grant, access_token: &str) -> String {
    let now = Utc::now();
    let fault = s.fault;
    let issuer = if fault == TokenFault::WrongIssuer {
        "https://impostor.example".to_owned()
    } else {
        s.issuer.clone()
    };
    let audience = if fault == TokenFault::WrongAudience {
        "someone-else"
    } else {
        CLIENT_ID
    };
    let (issued_at, expires_at) = if fault == TokenFault::Expired {
        (now - Duration::hours(2), now - Duration::hours(1))
    } else {
        (now, now + Duration::hours(1))
    };
    let nonce = if fault == TokenFault::WrongNonce {
        "not-the-nonce".to_owned()
    } else {
        grant.nonce.clone()
    };
    let mut name = LocalizedClaim::new();
    name.insert(None, EndUserName::new(s.account.name.clone()));
    let mut standard =
        StandardClaims::new(SubjectIdentifier::new(s.account.subject.clone())).set_name(Some(name));
    if fault != TokenFault::EmailOnlyInUserinfo {
        standard = standard
            .set_email(Some(EndUserEmail::new(s.account.email.clone())))
            .set_email_verified(Some(fault != TokenFault::EmailUnverified));
    }
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(issuer).unwrap(),
        vec![Audience::new(audience.to_owned())],
        expires_at,
        issued_at,
        standard,
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(nonce)));
    let access = AccessToken::new(access_token.to_owned());
    match fault {
        TokenFault::AlgNone => unsigned(&claims),
        TokenFault::Hs256 => CoreIdToken::new(
            claims,
            &CoreHmacKey::new(CLIENT_SECRET.as_bytes()),
            CoreJwsSigningAlgorithm::HmacSha256,
            Some(&access),
            None,
        )
        .unwrap()
        .to_string(),
        TokenFault::UnknownKid => sign(claims, &rsa_key(ROTATED_KEY, "key-2"), &access),
        _ => sign(claims, &rsa_key(SIGNING_KEY, "key-1"), &access),
    }
}

fn sign(claims: CoreIdTokenClaims, key: &CoreRsaPrivateSigningKey, access: &AccessToken) -> String {
    CoreIdToken::new(
        claims,
        key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(access),
        None,
    )
    .unwrap()
    .to_string()
}

/// `alg: none`: a header, the claims and an empty signature.
fn unsigned(claims: &CoreIdTokenClaims) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{header}.{payload}.")
}

async fn userinfo(req: HttpRequest, state: web::Data<Mutex<State>>) -> HttpResponse {
    if !req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer access-"))
    {
        return HttpResponse::Unauthorized().finish();
    }
    let s = state.lock().unwrap();
    let body: Value = json!({"sub": s.account.subject, "email": s.account.email, "email_verified": true, "name": s.account.name});
    HttpResponse::Ok().json(body)
}
