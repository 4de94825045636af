//! `hlbridge serve`: one process that receives webhooks, runs the OAuth flows, serves
//! the REST API and metrics, and runs every pair's sync.
