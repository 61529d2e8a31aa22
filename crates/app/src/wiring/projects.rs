//! The projects domain: projects, members and invitations in the database. Wiring only: the
//! rules stay in the domain.

use std::sync::Arc;

use workbench_projects::ProjectService;
use workbench_store::{Database, DieselProjectRepository};

pub fn service(db: &Database) -> ProjectService {
    ProjectService::new(Arc::new(DieselProjectRepository::new(db.clone())))
}
