//! Unit tests of the fault parser, draws and middleware.

use super::*;

#[test]
fn parses_cli_spec() {
    let c: FaultConfig = "429=0.05,5xx=0.1,slow=0.02,drop=0.01,expired=0.01,slow_ms=1500"
        .parse()
        .unwrap();
    assert_eq!(c.rate_429, 0.05);
    assert_eq!(c.rate_5xx, 0.1);
    assert_eq!(c.rate_slow, 0.02);
    assert_eq!(c.rate_drop, 0.01);
    assert_eq!(c.rate_expired_token, 0.01);
    assert_eq!(c.slow_ms, 1500);
    assert_eq!(FaultConfig::parse("").unwrap(), FaultConfig::default());
    assert_eq!(c.to_string().parse::<FaultConfig>().unwrap(), c);
}

#[test]
fn rejects_bad_specs() {
    assert!(matches!(
        FaultConfig::parse("429"),
        Err(FaultParseError::NotKeyValue(_))
    ));
    assert!(matches!(
        FaultConfig::parse("teapot=0.1"),
        Err(FaultParseError::UnknownKey(_))
    ));
    assert!(matches!(
        FaultConfig::parse("429=x"),
        Err(FaultParseError::NotANumber { .. })
    ));
    assert!(matches!(
        FaultConfig::parse("429=1.5"),
        Err(FaultParseError::OutOfRange { .. })
    ));
    assert!(matches!(
        FaultConfig::parse("429=0.6,5xx=0.6"),
        Err(FaultParseError::SumAboveOne(_))
    ));
}

#[test]
fn draws_roughly_honour_shares() {
    let c = FaultConfig {
        rate_429: 0.2,
        rate_5xx: 0.1,
        ..FaultConfig::default()
    };
    let mut rng = StdRng::seed_from_u64(7);
    let n = 20_000;
    let mut too_many = 0;
    let mut server = 0;
    for _ in 0..n {
        match c.draw(&mut rng) {
            Some(Fault::TooManyRequests) => too_many += 1,
            Some(Fault::ServerError(_)) => server += 1,
            None => {}
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!((too_many as f64 / n as f64 - 0.2).abs() < 0.02);
    assert!((server as f64 / n as f64 - 0.1).abs() < 0.02);
    assert_eq!(FaultConfig::default().draw(&mut rng), None);
}

#[tokio::test]
async fn dropped_connection_is_a_transport_error() {
    let injector = FaultInjector::new(FaultConfig {
        rate_drop: 1.0,
        ..FaultConfig::default()
    })
    .exempt(|p| p.uri.path() == "/ok");
    let app = injector
        .clone()
        .apply(Router::new().fallback(|| async { "served" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let result = match client.get(format!("http://{addr}/x")).send().await {
        Ok(resp) => resp.bytes().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(
        result.is_err(),
        "a dropped connection must not yield a body"
    );
    let ok = client
        .get(format!("http://{addr}/ok"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.text().await.unwrap(), "served");
    assert_eq!(injector.counts().dropped, 1);
}

#[test]
fn parses_commit_drop() {
    let c: FaultConfig = "commit_drop=0.02,429=0.1".parse().unwrap();
    assert_eq!(c.rate_commit_drop, 0.02);
    assert_eq!(c.rate_429, 0.1);
    assert!(!c.is_quiet());
    assert_eq!(c.to_string().parse::<FaultConfig>().unwrap(), c);
    assert!(matches!(
        FaultConfig::parse("commit_drop=0.6,drop=0.6"),
        Err(FaultParseError::SumAboveOne(_))
    ));
}

#[tokio::test]
async fn commit_drop_applies_writes_then_drops_and_spares_reads() {
    use std::sync::atomic::AtomicUsize;
    let writes = Arc::new(AtomicUsize::new(0));
    let counter = writes.clone();
    let injector = FaultInjector::new(FaultConfig {
        rate_commit_drop: 1.0,
        ..FaultConfig::default()
    });
    let app = injector
        .clone()
        .apply(Router::new().fallback(move |method: axum::http::Method| {
            let counter = counter.clone();
            async move {
                if method != axum::http::Method::GET {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                "served"
            }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ] {
        let result = match client
            .request(method.clone(), format!("http://{addr}/things/1"))
            .send()
            .await
        {
            Ok(resp) => resp.bytes().await.map(|_| ()),
            Err(e) => Err(e),
        };
        assert!(result.is_err(), "{method} must get no usable answer");
    }
    assert_eq!(writes.load(Ordering::SeqCst), 4, "every write was applied");
    let read = client
        .get(format!("http://{addr}/things"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.text().await.unwrap(), "served");
    let search = client
        .post(format!("http://{addr}/things/search"))
        .send()
        .await
        .unwrap();
    assert_eq!(search.text().await.unwrap(), "served", "searches are reads");
    assert_eq!(injector.counts().commit_dropped, 4);
    assert_eq!(injector.counts().dropped, 0);
}
