use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;
use tabletalk_adapters_sqlite::{SqliteDatabase, SqliteOptions};
use tabletalk_ports::Clock as _;
use tabletalk_ports::contract::Repositories;
use tabletalk_ports::fakes::InMemoryStore;
use tabletalk_server::{
    AccessKey, Adapters, Config, ConfigInputs, build_state, prepare_directories,
};
use tempfile::TempDir;

use crate::conformance::Conformance;

/// The local access key every test app is configured with.
pub const ACCESS_KEY: &str = "test-access-key-0123456789";

/// Configures a [`TestApp`].
#[derive(Default)]
pub struct TestAppBuilder {
    env: BTreeMap<String, String>,
    in_memory: bool,
    oidc: bool,
    worker: Option<tabletalk_query_engine::isolation::pool::WorkerCommand>,
    llm: Option<Arc<dyn tabletalk_ports::LlmClient>>,
}

impl std::fmt::Debug for TestAppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAppBuilder")
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

impl TestAppBuilder {
    /// Sets an environment variable for the configuration.
    #[must_use]
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    /// OIDC mode against `provider` (the real OIDC adapter talking to the fake provider over HTTP).
    #[must_use]
    pub fn oidc(mut self, provider: &crate::fake_oidc::FakeOidc) -> Self {
        self.oidc = true;
        self.env("TABLETALK__AUTH__OIDC__ISSUER", &provider.issuer)
            .env("GOOGLE_CLIENT_ID", crate::fake_oidc::CLIENT_ID)
            .env("GOOGLE_CLIENT_SECRET", crate::fake_oidc::CLIENT_SECRET)
    }

    /// Chat through this model (a port-level fake or a real adapter pointed at a wire-level fake).
    #[must_use]
    pub fn llm(mut self, llm: Arc<dyn tabletalk_ports::LlmClient>) -> Self {
        self.llm = Some(llm);
        self
    }

    /// Starts query workers with this command instead of the suite's `tabletalk` binary.
    #[must_use]
    pub fn worker(
        mut self,
        command: tabletalk_query_engine::isolation::pool::WorkerCommand,
    ) -> Self {
        self.worker = Some(command);
        self
    }

    /// Uses the in-memory fakes instead of SQLite (for handler tests that do not need storage).
    #[must_use]
    pub fn in_memory(mut self) -> Self {
        self.in_memory = true;
        self
    }

    pub async fn spawn(self) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut env = BTreeMap::from([
            ("TABLETALK__SERVER__PORT".to_owned(), port.to_string()),
            (
                "TABLETALK__AUTH__LOCAL_ACCESS_KEY".to_owned(),
                ACCESS_KEY.to_owned(),
            ),
            (
                "TABLETALK__STORAGE__DATABASE_URL".to_owned(),
                dir.path().join("tabletalk.db").display().to_string(),
            ),
            (
                "TABLETALK__STORAGE__DATA_DIR".to_owned(),
                dir.path().join("data").display().to_string(),
            ),
        ]);
        if self.oidc {
            env.insert(
                "TABLETALK__SERVER__PUBLIC_URL".to_owned(),
                format!("http://127.0.0.1:{port}"),
            );
        }
        env.extend(self.env);
        let config =
            Config::load(&ConfigInputs { file: None, env }).expect("test configuration is valid");
        prepare_directories(&config).unwrap();
        let store = self.in_memory.then(|| Arc::new(InMemoryStore::new()));
        let worker = self.worker.unwrap_or_else(crate::worker_command);
        let adapters = if let Some(store) = &store {
            let access = tabletalk_server::dataset_access(&config, &worker).unwrap();
            Adapters::from_store(
                store.clone(),
                Arc::new(tabletalk_ports::SystemClock),
                access,
            )
        } else {
            let for_blocking = config.clone();
            tokio::task::spawn_blocking(move || {
                tabletalk_server::real_adapters(&for_blocking, &worker)
            })
            .await
            .unwrap()
            .unwrap()
        };
        let mut adapters = adapters;
        if let Some(llm) = self.llm {
            adapters.llm = Some(llm);
        }
        let key = AccessKey::resolve(&config).unwrap();
        let state = build_state(adapters, &config, &key).unwrap();
        let events = state.events.clone();
        let connections = state.connections.clone();
        // The production app, with every response held to the published OpenAPI document on the way out.
        let conformance = Arc::new(Conformance::new(tabletalk_http_api::openapi_document()));
        let checker = conformance.clone();
        let server = actix_web::HttpServer::new(move || {
            let checker = checker.clone();
            tabletalk_http_api::app(state.clone()).wrap(actix_web::middleware::from_fn(
                move |req, next| crate::conformance::record(checker.clone(), req, next),
            ))
        })
        .listen(listener)
        .unwrap()
        .shutdown_timeout(config.server.shutdown_grace.as_secs())
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            client: client(),
            handle,
            dir,
            config,
            store,
            events,
            connections,
            conformance,
        }
    }
}

/// Keeps cookies like a browser but does not follow redirects, so tests see every 302.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A running server with a cookie-keeping HTTP client.
#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    /// Keeps cookies, like a browser.
    pub client: reqwest::Client,
    handle: ServerHandle,
    dir: TempDir,
    pub config: Config,
    store: Option<Arc<InMemoryStore>>,
    /// The domain's event bus (what the WebSocket delivers).
    pub events: Arc<tabletalk_domain::InProcessBus>,
    connections: Arc<tabletalk_http_api::Connections>,
    /// Every response this app gave, checked against its OpenAPI document.
    conformance: Arc<Conformance>,
}

impl TestApp {
    /// The in-memory store of an app built with [`TestAppBuilder::in_memory`].
    pub fn store(&self) -> &InMemoryStore {
        self.store
            .as_deref()
            .expect("the app was built with in_memory()")
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    /// A server on real SQLite with the default test configuration.
    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Direct access to the app's storage (a second pool on its SQLite file, or its in-memory store), to
    /// arrange data no endpoint can create yet and to check what was stored.
    pub fn repositories(&self) -> Repositories {
        if let Some(store) = &self.store {
            return Repositories::from_one(store.clone());
        }
        let database = SqliteDatabase::open(&SqliteOptions::new(self.database_path())).unwrap();
        Repositories::from_one(Arc::new(database))
    }

    /// The SQLite file behind this app.
    pub fn database_path(&self) -> PathBuf {
        self.dir.path().join("tabletalk.db")
    }

    /// A second browser: its own cookie jar.
    pub fn new_client(&self) -> reqwest::Client {
        client()
    }

    /// Signs the app's client in through `POST /auth/dev-login`.
    pub async fn login(&self) {
        let response = self.dev_login(&self.client, ACCESS_KEY).await;
        assert_eq!(
            response.status(),
            200,
            "dev-login failed: {:?}",
            response.text().await
        );
    }

    pub async fn dev_login(&self, client: &reqwest::Client, key: &str) -> reqwest::Response {
        client
            .post(self.url("/auth/dev-login"))
            .json(&serde_json::json!({"referral_key": key}))
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post_empty(&self, path: &str) -> reqwest::Response {
        self.client.post(self.url(path)).send().await.unwrap()
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    /// A raw request with explicit headers and body.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        if !map.contains_key(CONTENT_TYPE) && !body.is_empty() {
            map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        self.client
            .request(method, self.url(path))
            .headers(map)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// A new session token of the local user (as the `session_token` cookie would carry it).
    pub async fn session_token(&self) -> String {
        let client = self.new_client();
        let response = self.dev_login(&client, ACCESS_KEY).await;
        assert_eq!(response.status(), 200);
        let cookie = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("session_token="))
            .unwrap()
            .to_owned();
        cookie["session_token=".len()..]
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    /// The signed-in local user's id, from `GET /auth/me`.
    pub async fn user_id(&self) -> tabletalk_ports::UserId {
        let me = json_with_status(self.get("/auth/me").await, 200).await;
        me["user_id"].as_str().unwrap().parse().unwrap()
    }

    /// A session token for another user (created directly in storage).
    pub async fn other_user_token(&self, subject: &str) -> (tabletalk_ports::UserId, String) {
        let repos = self.repositories();
        let now = tabletalk_ports::SystemClock.now();
        let identity = tabletalk_ports::Identity {
            issuer: "https://issuer.example".into(),
            subject: subject.into(),
            email: format!("{subject}@example.com"),
            name: subject.into(),
            avatar_url: None,
        };
        let user = repos.users.sign_in(&identity, now).await.unwrap();
        let token = tabletalk_domain::SessionToken::generate().unwrap();
        let session = tabletalk_ports::Session {
            id: tabletalk_ports::SessionId::new(),
            token_hash: token.hash(),
            user_id: user.id,
            created_at: now,
            expires_at: now + std::time::Duration::from_hours(1),
            last_extended_at: now,
        };
        repos.sessions.create(&session).await.unwrap();
        (user.id, token.expose().to_owned())
    }

    /// Creates a conversation and returns its id.
    pub async fn create_conversation(&self) -> String {
        let response = self.post_empty("/conversations").await;
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.connections.shutdown();
        self.handle.stop(true).await;
        let violations = self.conformance.violations();
        assert!(
            violations.is_empty(),
            "responses outside the OpenAPI document:\n{}",
            violations.join("\n")
        );
    }
}

/// Reads a JSON body, asserting on the status first.
pub async fn json_with_status(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body}"))
}
