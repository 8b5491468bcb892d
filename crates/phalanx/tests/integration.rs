//! The one integration-test binary of Phalanx (one link step for all).
//! Each module drives the real `phalanx` binary on temporary data
//! directories.

mod cli_detect;
mod cli_identity;
mod cli_import;
mod cli_match;
mod cli_response;
mod common;
mod communities;
mod federation;
mod federation_response;
mod limits;
mod rest;
mod rest_response;
mod stream;
mod taxii;
mod web;
mod webhooks;
