//! OAuth against the emulator: authorization code with PKCE (a wrong verifier is
//! refused), rotating refresh tokens kept in the token store (the old one is refused),
//! single-flight refresh, client credentials, and `corpId` from the JWT.

mod support;

use std::sync::Arc;

use hlbridge_core::auth::{Cipher, MemoryTokenStore, SqliteTokenStore, TokenManager, TokenStore};
use hlbridge_core::error::Error;
use hlbridge_emulator::sellsy::SellsyEmulator;
use hlbridge_sellsy::oauth::{corp_id, Pkce, SellsyOAuth};
use hlbridge_sellsy::{SellsyAuth, SellsyClient};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn oauth(emu: &SellsyEmulator) -> SellsyOAuth {
    let config = emu.state().config();
    SellsyOAuth::new(
        &emu.token_url(),
        &config.client_id,
        Some(&config.client_secret),
    )
    .unwrap()
}

/// Play the user: open the authorize URL, approve, read the code from the redirect.
async fn approve(emu: &SellsyEmulator, oauth: &SellsyOAuth, pkce: &Pkce) -> String {
    let url = oauth.authorize_url(&emu.authorize_url(), REDIRECT, "state-1", pkce);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200, "approval page");
    let redirect = http
        .get(format!("{url}&approve=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 302);
    let location = reqwest::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("state-1"));
    param("code").unwrap()
}

#[tokio::test]
async fn authorization_code_pkce_round_trip() {
    let emu = support::emulator(support::quick(3)).await;
    let oauth = oauth(&emu);
    let pkce = Pkce::new();
    let code = approve(&emu, &oauth, &pkce).await;
    let wrong = Pkce::new();
    let refused = oauth
        .exchange_code(
            &code,
            secrecy::ExposeSecret::expose_secret(&wrong.verifier),
            REDIRECT,
        )
        .await;
    match refused {
        Err(Error::Validation { messages, .. }) => {
            assert!(
                messages.iter().any(|m| m.contains("invalid_grant")),
                "{messages:?}"
            )
        }
        other => panic!("a wrong verifier must be refused, got {other:?}"),
    }

    let code = approve(&emu, &oauth, &pkce).await;
    let tokens = oauth
        .exchange_code(
            &code,
            secrecy::ExposeSecret::expose_secret(&pkce.verifier),
            REDIRECT,
        )
        .await
        .unwrap();
    assert_eq!(corp_id(&tokens), Some(emu.state().corp_id()));
    assert!(tokens.refresh().is_some());
    assert!(tokens.expires_at.is_some());

    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::default());
    let manager =
        TokenManager::create("sellsy:test", store, Some(Arc::new(oauth)), tokens).unwrap();
    let client = SellsyClient::builder()
        .base_url(&emu.base_url)
        .auth(SellsyAuth::OAuth(Arc::new(manager)))
        .build()
        .unwrap();
    assert_eq!(client.me().await.unwrap().id, 1);
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_is_refused() {
    let emu = support::emulator(support::quick(0)).await;
    let oauth = Arc::new(oauth(&emu));
    let pkce = Pkce::new();
    let code = approve(&emu, &oauth, &pkce).await;
    let tokens = oauth
        .exchange_code(
            &code,
            secrecy::ExposeSecret::expose_secret(&pkce.verifier),
            REDIRECT,
        )
        .await
        .unwrap();
    let old_refresh = tokens.refresh().unwrap().to_string();
    let old_access = tokens.access().to_string();

    // The encrypted SQLite store the CLI uses, in memory for the test.
    let store: Arc<dyn TokenStore> =
        Arc::new(SqliteTokenStore::in_memory(Cipher::from_key(&[7u8; 32])).unwrap());
    let manager = Arc::new(
        TokenManager::create("sellsy:rot", store.clone(), Some(oauth.clone()), tokens).unwrap(),
    );
    // Many callers see a 401 at once: one refresh happens.
    let mut waiting = Vec::new();
    for _ in 0..10 {
        let manager = manager.clone();
        let old_access = old_access.clone();
        waiting.push(tokio::spawn(async move {
            manager.refresh_after_unauthorized(&old_access).await
        }));
    }
    let mut fresh = Vec::new();
    for w in waiting {
        fresh.push(w.await.unwrap().unwrap().unwrap());
    }
    assert!(fresh.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(manager.refresh_count(), 1);

    let stored = store.load("sellsy:rot").unwrap().unwrap();
    let new_refresh = stored.refresh().unwrap().to_string();
    assert_ne!(
        new_refresh, old_refresh,
        "the rotated refresh token was stored"
    );

    let reused = oauth.refresh_tokens(&old_refresh).await;
    assert!(
        matches!(reused, Err(Error::Validation { .. })),
        "old refresh token refused: {reused:?}"
    );
    assert!(oauth.refresh_tokens(&new_refresh).await.is_ok());
}

#[tokio::test]
async fn client_credentials_for_personal_clients() {
    let emu = support::emulator(support::quick(0)).await;
    let tokens = oauth(&emu).client_credentials().await.unwrap();
    assert!(tokens.refresh().is_none());
    assert_eq!(corp_id(&tokens), Some(emu.state().corp_id()));

    let bad = SellsyOAuth::new(
        &emu.token_url(),
        &emu.state().config().client_id,
        Some("wrong"),
    )
    .unwrap();
    assert!(matches!(
        bad.client_credentials().await,
        Err(Error::Auth { .. })
    ));
}

#[tokio::test]
async fn public_clients_need_no_secret() {
    let emu = support::emulator(support::quick(0)).await;
    let public = SellsyOAuth::new(&emu.token_url(), &emu.state().config().client_id, None).unwrap();
    let pkce = Pkce::new();
    let code = approve(&emu, &public, &pkce).await;
    let verifier = secrecy::ExposeSecret::expose_secret(&pkce.verifier).to_string();
    let tokens = public
        .exchange_code(&code, &verifier, REDIRECT)
        .await
        .unwrap();
    let rotated = public
        .refresh_tokens(tokens.refresh().unwrap())
        .await
        .unwrap();
    assert_ne!(rotated.refresh(), tokens.refresh());
    assert!(
        matches!(public.client_credentials().await, Err(Error::Config(_))),
        "client_credentials needs a secret"
    );
}
