//! The SSRF guard (docs/api.md, "Datasets") against real servers: a fixture on 127.0.0.2 that the tests allow by CIDR,
//! and targets on 127.0.0.1 that must never receive a request.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::json;
use std::net::IpAddr;
use tabletalk_domain::datasets::DatasetUrl;

use tabletalk_query_engine::fetch::{
    AddressPolicy, Cidr, FetchError, FetchSettings, GuardedFetcher, is_blocked,
};
use tabletalk_tests::scripted_server::{Reply, ScriptedServer};

fn fetcher(policy: AddressPolicy) -> GuardedFetcher {
    GuardedFetcher::new(FetchSettings {
        policy,
        user_agent: format!("Tabletalk/{}", env!("CARGO_PKG_VERSION")),
    })
}

fn allowing_fixture() -> AddressPolicy {
    AddressPolicy {
        allowed_cidrs: vec!["127.0.0.2/32".parse().unwrap()],
        ..AddressPolicy::default()
    }
}

async fn get(fetcher: &GuardedFetcher, raw: &str) -> Result<reqwest::Response, FetchError> {
    let url = DatasetUrl::parse(raw).unwrap();
    fetcher
        .send(
            Method::GET,
            url.url(),
            HeaderMap::new(),
            Duration::from_secs(5),
        )
        .await
        .map(|f| f.response)
}

#[actix_web::test]
async fn internal_addresses_are_refused_in_every_spelling() {
    let target = ScriptedServer::start();
    let port = target.base.rsplit(':').next().unwrap().to_owned();
    let guard = fetcher(allowing_fixture());
    for host in [
        "127.0.0.1",
        "localhost",
        "2130706433",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "127.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",
        "169.254.169.254",
        "10.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "100.64.0.1",
        "0.0.0.0",
        "[fd00::1]",
        "[fe80::1]",
    ] {
        let outcome = get(&guard, &format!("http://{host}:{port}/data.csv")).await;
        let error = outcome
            .err()
            .unwrap_or_else(|| panic!("{host} was fetched"));
        assert_eq!(error, FetchError::Blocked, "{host}");
        assert_eq!(
            (error.code(), error.to_string().as_str()),
            (
                "url_blocked",
                "URLs pointing to internal/private networks are not allowed."
            )
        );
    }
    assert!(
        target.requests().is_empty(),
        "no request ever reached the internal target"
    );
}

#[actix_web::test]
async fn allowed_networks_and_hosts_are_fetched_with_the_name_kept() {
    let fixture = ScriptedServer::start_on("127.0.0.2");
    fixture.reply(Reply::json(200, &json!({"ok": true})));
    let response = get(
        &fetcher(allowing_fixture()),
        &format!("{}/data.json", fixture.base),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let seen = &fixture.requests()[0];
    assert_eq!(
        seen.headers["user-agent"],
        format!("Tabletalk/{}", env!("CARGO_PKG_VERSION"))
    );

    let named = ScriptedServer::start();
    named.reply(Reply::json(200, &json!({"ok": true})));
    let port = named.base.rsplit(':').next().unwrap();
    let by_name = AddressPolicy {
        allowed_hosts: vec!["localhost".into()],
        ..AddressPolicy::default()
    };
    let response = get(
        &fetcher(by_name),
        &format!("http://localhost:{port}/d.json"),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        named.requests()[0].headers["host"],
        format!("localhost:{port}"),
        "the Host header keeps the name"
    );
}

#[actix_web::test]
async fn every_redirect_hop_is_checked_again() {
    let internal = ScriptedServer::start();
    let fixture = ScriptedServer::start_on("127.0.0.2");
    fixture.reply(Reply::redirect(&format!("{}/secret", internal.base)));
    let error = get(
        &fetcher(allowing_fixture()),
        &format!("{}/data.csv", fixture.base),
    )
    .await
    .unwrap_err();
    assert_eq!(error, FetchError::Blocked);
    assert!(
        internal.requests().is_empty(),
        "the redirect target was never contacted"
    );

    fixture
        .reply(Reply::redirect("/hop1"))
        .reply(Reply::redirect("hop2"))
        .reply(Reply::json(200, &json!([])));
    let response = get(
        &fetcher(allowing_fixture()),
        &format!("{}/start", fixture.base),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let paths: Vec<String> = fixture
        .requests()
        .iter()
        .skip(1)
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        paths,
        ["/start", "/hop1", "/hop2"],
        "relative locations resolve against the current URL"
    );

    fixture.reply(Reply::redirect("ftp://example.com/x"));
    assert_eq!(
        get(&fetcher(allowing_fixture()), &format!("{}/a", fixture.base))
            .await
            .unwrap_err(),
        FetchError::NonHttpRedirect
    );
}

#[actix_web::test]
async fn five_redirects_are_followed_and_a_sixth_is_refused() {
    let fixture = ScriptedServer::start_on("127.0.0.2");
    for i in 0..5 {
        fixture.reply(Reply::redirect(&format!("/r{i}")));
    }
    fixture.reply(Reply::json(200, &json!({})));
    assert_eq!(
        get(&fetcher(allowing_fixture()), &format!("{}/r", fixture.base))
            .await
            .unwrap()
            .status(),
        200
    );

    for i in 0..6 {
        fixture.reply(Reply::redirect(&format!("/s{i}")));
    }
    let error = get(&fetcher(allowing_fixture()), &format!("{}/s", fixture.base))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Could not access URL: too many redirects"
    );
}

#[actix_web::test]
async fn unreachable_hosts_get_the_documented_reasons() {
    let open = fetcher(AddressPolicy {
        allow_private_networks: true,
        ..AddressPolicy::default()
    });
    assert_eq!(
        get(&open, "http://no-such-host.invalid/x.csv")
            .await
            .unwrap_err(),
        FetchError::HostNotFound
    );

    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = get(&open, &format!("http://127.0.0.1:{closed_port}/x"))
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "Could not access URL: connection refused"
    );

    let slow = ScriptedServer::start();
    slow.reply(Reply::json(200, &json!({})).delayed(Duration::from_secs(3)));
    let url = DatasetUrl::parse(&format!("{}/slow", slow.base)).unwrap();
    let error = open
        .send(
            Method::GET,
            url.url(),
            HeaderMap::new(),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::TimedOut(_)), "{error:?}");
    assert_eq!(error.code(), "url_unreachable");
}

// The address policy on its own.

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn private_special_and_embedded_addresses_are_blocked() {
    for blocked in [
        "0.0.0.0",
        "10.1.2.3",
        "100.64.0.1",
        "127.0.0.1",
        "127.255.255.254",
        "169.254.169.254",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.168.1.1",
        "198.18.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::127.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "64:ff9b:1::1",
        "2001:db8::1",
        "2002::1",
        "fc00::1",
        "fd12::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "100::1",
        "3fff::1",
    ] {
        assert!(is_blocked(ip(blocked)), "{blocked} must be blocked");
    }
    for public in [
        "8.8.8.8",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
    ] {
        assert!(!is_blocked(ip(public)), "{public} must be allowed");
    }
}

#[test]
fn exceptions_open_exactly_what_they_name() {
    let policy = AddressPolicy {
        allow_private_networks: false,
        allowed_hosts: vec!["data.internal".into(), "*.corp.example".into()],
        allowed_cidrs: vec!["10.20.0.0/16".parse().unwrap()],
    };
    assert!(policy.allows(Some("data.internal"), ip("10.0.0.5")));
    assert!(policy.allows(Some("files.corp.example"), ip("192.168.1.1")));
    assert!(
        !policy.allows(Some("corp.example"), ip("192.168.1.1")),
        "*.x does not cover x itself"
    );
    assert!(!policy.allows(Some("evilcorp.example"), ip("192.168.1.1")));
    assert!(policy.allows(None, ip("10.20.3.4")));
    assert!(!policy.allows(None, ip("10.21.3.4")));
    assert!(
        AddressPolicy {
            allow_private_networks: true,
            ..AddressPolicy::default()
        }
        .allows(None, ip("127.0.0.1"))
    );
    assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    assert!("::/0".parse::<Cidr>().unwrap().contains(&ip("::1")));
    assert!(
        !"::/0".parse::<Cidr>().unwrap().contains(&ip("10.0.0.1")),
        "families never contain each other"
    );
    assert!("10.0.0.0".parse::<Cidr>().is_err(), "a prefix is required");
}
