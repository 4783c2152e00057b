//! Role assignments in the database, and the grants of a subject loaded from them.

use sqlx::{FromRow, Row};

use super::decision::{Assignment, Grants, Principal};
use super::roles::Role;
use super::scope::Scope;
use super::Subject;
use crate::backend::db::{now_ms, Db};

#[derive(FromRow)]
struct AssignmentRow {
    id: String,
    subject_kind: String,
    subject_id: String,
    role: String,
    scope: String,
}

impl AssignmentRow {
    /// A row written by an older or newer version that this one cannot read grants nothing.
    fn into_assignment(self) -> Option<Assignment> {
        let assignment = Assignment {
            principal: Principal::from_parts(&self.subject_kind, &self.subject_id)?,
            role: Role::parse(&self.role)?,
            scope: Scope::parse(&self.scope).ok()?,
            id: self.id,
        };
        Some(assignment)
    }
}

const COLUMNS: &str = "id, subject_kind, subject_id, role, scope";

/// Everything that applies to `subject`: its own assignments, its teams' (for users) and the
/// anonymous ones (public namespaces are readable by everyone).
pub async fn grants_of(db: &Db, subject: &Subject) -> Result<Grants, sqlx::Error> {
    let rows: Vec<AssignmentRow> = match subject {
        Subject::Console => {
            return Ok(Grants {
                console: true,
                assignments: Vec::new(),
            })
        }
        Subject::Anonymous => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM role_assignments WHERE subject_kind = 'anonymous'"
            ))
            .fetch_all(&db.pool)
            .await?
        }
        Subject::User(user) => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM role_assignments WHERE subject_kind = 'anonymous' \
                 OR (subject_kind = 'user' AND subject_id = $1) \
                 OR (subject_kind = 'team' AND subject_id IN (SELECT team_id FROM team_members WHERE user_id = $1))"
            ))
            .bind(&user.id)
            .fetch_all(&db.pool)
            .await?
        }
        Subject::Robot(robot) => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM role_assignments WHERE subject_kind = 'anonymous' \
                 OR (subject_kind = 'robot' AND subject_id = $1)"
            ))
            .bind(&robot.id)
            .fetch_all(&db.pool)
            .await?
        }
    };
    Ok(Grants {
        console: false,
        assignments: rows.into_iter().filter_map(AssignmentRow::into_assignment).collect(),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    #[error("robots get the Puller, Pusher or Deleter role")]
    RobotRole,
    #[error("users and teams get the Reader, Contributor or Owner role")]
    PersonRole,
    #[error("anyone (anonymous) may only be given Reader")]
    AnonymousRole,
    #[error("that assignment exists already")]
    Exists,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Adds an assignment after checking the role fits the principal.
pub async fn add(
    db: &Db,
    principal: &Principal,
    role: Role,
    scope: &Scope,
    created_by: Option<&str>,
) -> Result<Assignment, AssignError> {
    match principal {
        Principal::Robot(_) if !role.for_robots() => return Err(AssignError::RobotRole),
        Principal::User(_) | Principal::Team(_) if role.for_robots() => return Err(AssignError::PersonRole),
        Principal::Anonymous if role != Role::Reader => return Err(AssignError::AnonymousRole),
        _ => {}
    }
    let assignment = Assignment {
        id: uuid::Uuid::new_v4().to_string(),
        principal: principal.clone(),
        role,
        scope: scope.clone(),
    };
    let mut tx = db.begin_write().await?;
    let exists = sqlx::query(
        "SELECT 1 AS x FROM role_assignments WHERE subject_kind = $1 AND subject_id = $2 AND role = $3 AND scope = $4",
    )
    .bind(principal.kind())
    .bind(principal.id())
    .bind(role.as_str())
    .bind(scope.to_text())
    .fetch_optional(&mut *tx)
    .await?
    .is_some();
    if exists {
        return Err(AssignError::Exists);
    }
    sqlx::query(
        "INSERT INTO role_assignments (id, subject_kind, subject_id, role, scope, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&assignment.id)
    .bind(principal.kind())
    .bind(principal.id())
    .bind(role.as_str())
    .bind(scope.to_text())
    .bind(now_ms())
    .bind(created_by)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(assignment)
}

pub async fn find(db: &Db, id: &str) -> Result<Option<Assignment>, sqlx::Error> {
    let row: Option<AssignmentRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM role_assignments WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.and_then(AssignmentRow::into_assignment))
}

pub async fn remove(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM role_assignments WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?
        .rows_affected()
        > 0)
}

/// An assignment with the name of its principal, for lists.
#[derive(Debug, Clone)]
pub struct NamedAssignment {
    pub assignment: Assignment,
    /// User, team or robot name; "anyone" for anonymous.
    pub principal_name: String,
}

/// Every assignment, with principal names, ordered by scope then principal.
pub async fn list(db: &Db) -> Result<Vec<NamedAssignment>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT a.id, a.subject_kind, a.subject_id, a.role, a.scope, \
                COALESCE(u.username, t.name, r.name, 'anyone') AS principal_name \
         FROM role_assignments a \
         LEFT JOIN users u ON a.subject_kind = 'user' AND u.id = a.subject_id \
         LEFT JOIN teams t ON a.subject_kind = 'team' AND t.id = a.subject_id \
         LEFT JOIN robots r ON a.subject_kind = 'robot' AND r.id = a.subject_id \
         ORDER BY a.scope, principal_name, a.role",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("principal_name")?;
        if let Some(assignment) = AssignmentRow::from_row(&row)?.into_assignment() {
            out.push(NamedAssignment {
                assignment,
                principal_name: name,
            });
        }
    }
    Ok(out)
}
