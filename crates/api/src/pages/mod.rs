//! Server-rendered HTML pages for people, as opposed to the REST API in
//! [`crate::routes`]: they are not API operations, so they live outside `routes/`
//! and are not in the OpenAPI document.
//!
//! - [`answer`]: `/r/{token}`, the one-time answer page a team member opens from
//!   the pulse email.

pub mod answer;

use actix_web::web::{self, ServiceConfig};

/// Registers every page.
pub fn configure(config: &mut ServiceConfig) {
    config.service(
        web::resource("/r/{token}")
            .route(web::get().to(answer::show_form))
            .route(web::post().to(answer::submit_answers)),
    );
}
