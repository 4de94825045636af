//! Shared by the end-to-end tests: an emulator and a client connected to it.

#![allow(dead_code)]

use hlbridge_emulator::sellsy::{start, SellsyConfig, SellsyEmulator};
use hlbridge_sellsy::{SellsyAuth, SellsyClient};

pub async fn emulator(config: SellsyConfig) -> SellsyEmulator {
    start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// A client with a token minted by the emulator, that has learnt the account's quotas.
pub async fn client(emu: &SellsyEmulator) -> SellsyClient {
    let client = SellsyClient::builder()
        .base_url(&emu.base_url)
        .auth(SellsyAuth::Token(emu.state().mint_access_token()))
        .budget_key(format!("sellsy:{}", emu.state().corp_id()))
        .build()
        .unwrap();
    client.learn_quotas().await.unwrap();
    client
}

pub fn quick(seed_contacts: usize) -> SellsyConfig {
    SellsyConfig {
        seed_contacts,
        quota_per_second: 200,
        ..SellsyConfig::default()
    }
}
