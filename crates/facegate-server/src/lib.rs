//! The HTTP service: routes, auth, OpenAPI, business rules and compatibility routes.
