//! Webhooks: registry events delivered to Teams, Slack, Logic Apps, CloudEvents receivers and
//! any HTTP endpoint. Durable (a delivery is a leased row queued in the intake's transaction),
//! signed (Standard Webhooks), retried on a schedule, logged attempt by attempt.
//!
//! - [`store`]: the webhooks themselves, validated;
//! - [`scope`]: which events a webhook receives;
//! - [`deliveries`]: the delivery queue and the attempt log; [`log`]: what the pages read of it;
//! - [`dispatcher`]: claims, renders, signs, sends, records;
//! - [`lanes`]: on SQLite, what the intake queues is sent at once, without a claim;
//! - [`event`], [`formats`], [`signing`]: what is sent, in which shape, signed how;
//! - [`outbound`]: which addresses may be dialled.

pub mod deliveries;
pub mod dispatcher;
pub mod event;
pub mod formats;
pub mod lanes;
pub mod log;
pub mod outbound;
pub mod scope;
pub mod signing;
pub mod store;
