#[rustfmt::skip]
pub mod generated {
    pub mod ops;
}
pub use generated::ops::TABLE;
