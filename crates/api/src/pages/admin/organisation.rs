//! The console's organisation pages: the overview, the team tree, people (search,
//! add, edit, deactivate, roles, erase) and the CSV upload with its preview. Every
//! change goes through the function behind its REST operation.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use safepulse_domain::{Email, PersonId, TeamId};
use safepulse_store::StoreError;
use safepulse_store::entities::{person, survey, team};
use safepulse_store::org;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde::Deserialize;

use super::{
    Admin, AdminForm, AdminNotice, Problems, api_error_page, done, html_response, notice,
    server_error,
};
use crate::error::{ApiError, FieldError};
use crate::import::{self, ImportReport, PreviewOutcome, PreviewRow};
use crate::pages::language::Text;
use crate::pages::session::Session;
use crate::routes::{people, teams};
use crate::state::AppState;

#[derive(Debug, Template)]
#[template(path = "admin/home.html")]
struct HomePage<'a> {
    t: Text,
    session: &'a Session,
    teams: u64,
    surveyed: u64,
    role_only: u64,
    surveys: u64,
}

/// `GET /admin`: where things stand, and where to start on an empty instance.
pub async fn home(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    let db = state.store.connection();
    let counts = async {
        let teams = team::Entity::find().count(db).await?;
        let surveyed = person::Entity::find()
            .filter(person::Column::TeamId.is_not_null())
            .count(db)
            .await?;
        let role_only = person::Entity::find()
            .filter(person::Column::TeamId.is_null())
            .count(db)
            .await?;
        let surveys = survey::Entity::find().count(db).await?;
        Ok::<_, safepulse_store::StoreError>((teams, surveyed, role_only, surveys))
    }
    .await;
    match counts {
        Ok((teams, surveyed, role_only, surveys)) => html_response(
            StatusCode::OK,
            HomePage {
                session: &admin.session,
                t: admin.session.text(),
                teams,
                surveyed,
                role_only,
                surveys,
            }
            .render(),
        ),
        Err(error) => server_error(&error, Some(&admin.session)),
    }
}

// ---------------------------------------------------------------------------------
// Teams

/// A team with its place in the tree, for lists and pickers.
#[derive(Debug, Clone)]
pub struct TeamEntry {
    pub id: TeamId,
    /// `Engineering / Platform`.
    pub path: String,
    pub depth: usize,
    pub time_zone: String,
    pub members: usize,
}

/// Every team, depth first under its parent, by name.
pub async fn team_entries(state: &AppState) -> Result<Vec<TeamEntry>, StoreError> {
    let db = state.store.connection();
    let teams = org::all_teams(db).await?;
    let people = person::Entity::find().all(db).await?;
    let mut members: HashMap<TeamId, usize> = HashMap::new();
    for team_id in people.iter().filter_map(|person| person.team_id) {
        *members.entry(team_id).or_default() += 1;
    }
    let mut children: BTreeMap<Option<TeamId>, Vec<&team::Model>> = BTreeMap::new();
    for team in &teams {
        children.entry(team.parent_id).or_default().push(team);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    }
    let mut entries = Vec::with_capacity(teams.len());
    let mut stack: Vec<(&team::Model, usize, String)> = children
        .get(&None)
        .into_iter()
        .flatten()
        .rev()
        .map(|team| (*team, 0, team.name.clone()))
        .collect();
    while let Some((team, depth, path)) = stack.pop() {
        for child in children.get(&Some(team.id)).into_iter().flatten().rev() {
            stack.push((child, depth + 1, format!("{path} / {}", child.name)));
        }
        entries.push(TeamEntry {
            id: team.id,
            path,
            depth,
            time_zone: team.time_zone.clone(),
            members: members.get(&team.id).copied().unwrap_or(0),
        });
    }
    Ok(entries)
}

/// A team's id typed into a form field: blank is `None`, anything else must parse.
fn uuid_field(form: &AdminForm, name: &str, problems: &mut Problems) -> Option<Option<TeamId>> {
    match form.optional(name) {
        None => Some(None),
        Some(raw) => match raw.parse() {
            Ok(id) => Some(Some(id)),
            Err(_) => {
                problems
                    .errors
                    .push(FieldError::new(name, "choose one of the listed entries"));
                None
            }
        },
    }
}

#[derive(Debug, Default)]
struct TeamForm {
    name: String,
    parent_id: String,
    time_zone: String,
}

#[derive(Debug, Template)]
#[template(path = "admin/teams.html")]
struct TeamsPage<'a> {
    t: Text,
    session: &'a Session,
    teams: Vec<TeamEntry>,
    form: TeamForm,
    problems: Problems,
}

async fn render_teams(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    form: TeamForm,
    problems: Problems,
) -> HttpResponse {
    match team_entries(state).await {
        Ok(teams) => html_response(
            status,
            TeamsPage {
                session,
                t: session.text(),
                teams,
                form,
                problems,
            }
            .render(),
        ),
        Err(error) => server_error(&error, Some(session)),
    }
}

/// `GET /admin/teams`: the tree and the form for a new team.
pub async fn teams_page(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    render_teams(
        &state,
        &admin.session,
        StatusCode::OK,
        TeamForm::default(),
        Problems::default(),
    )
    .await
}

/// `POST /admin/teams`: [`teams::create`], as `POST /api/v1/teams`.
pub async fn create_team(form: AdminForm, state: web::Data<AppState>) -> HttpResponse {
    let typed = TeamForm {
        name: form.text("name").to_owned(),
        parent_id: form.text("parent_id").to_owned(),
        time_zone: form.text("time_zone").to_owned(),
    };
    let mut problems = Problems::default();
    let Some(parent_id) = uuid_field(&form, "parent_id", &mut problems) else {
        return render_teams(
            &state,
            &form.session,
            StatusCode::UNPROCESSABLE_ENTITY,
            typed,
            problems,
        )
        .await;
    };
    let body = teams::CreateTeam {
        name: form.text("name").to_owned(),
        parent_id,
        time_zone: form.optional("time_zone"),
    };
    match teams::create(&state, &form.session.caller.subject, body).await {
        Ok(team) => done(&format!("/admin/teams/{}", team.id)),
        Err(error) => match Problems::from_api(&error) {
            Some(problems) => {
                render_teams(
                    &state,
                    &form.session,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    typed,
                    problems,
                )
                .await
            }
            None => api_error_page(error, &form.session),
        },
    }
}

#[derive(Debug, Template)]
#[template(path = "admin/team.html")]
struct TeamPage<'a> {
    t: Text,
    session: &'a Session,
    team: team::Model,
    path: String,
    /// Teams it may move below (not itself, nothing below it).
    parents: Vec<TeamEntry>,
    form: TeamForm,
    leaders: Vec<person::Model>,
    members: Vec<person::Model>,
    leader_email: String,
    problems: Problems,
}

async fn render_team(
    state: &AppState,
    session: &Session,
    id: TeamId,
    status: StatusCode,
    form: Option<TeamForm>,
    leader_email: String,
    problems: Problems,
) -> HttpResponse {
    let db = state.store.connection();
    let loaded = async {
        let team = org::get_team(db, id).await?;
        let entries = team_entries(state).await?;
        let leaders = org::leaders_of(db, id).await?;
        let members = person::Entity::find()
            .filter(person::Column::TeamId.eq(id))
            .order_by_asc(person::Column::Name)
            .all(db)
            .await?;
        Ok::<_, StoreError>((team, entries, leaders, members))
    }
    .await;
    let (team, entries, leaders, members) = match loaded {
        Ok(loaded) => loaded,
        Err(StoreError::NotFound) => {
            return notice(StatusCode::NOT_FOUND, AdminNotice::NotFound, Some(session));
        }
        Err(error) => return server_error(&error, Some(session)),
    };
    let path = entries
        .iter()
        .find(|entry| entry.id == id)
        .map(|entry| entry.path.clone())
        .unwrap_or_else(|| team.name.clone());
    let below = format!("{path} / ");
    let parents = entries
        .into_iter()
        .filter(|entry| entry.id != id && !entry.path.starts_with(&below))
        .collect();
    let form = form.unwrap_or_else(|| TeamForm {
        name: team.name.clone(),
        parent_id: team.parent_id.map(|id| id.to_string()).unwrap_or_default(),
        time_zone: team.time_zone.clone(),
    });
    html_response(
        status,
        TeamPage {
            session,
            t: session.text(),
            team,
            path,
            parents,
            form,
            leaders,
            members,
            leader_email,
            problems,
        }
        .render(),
    )
}

/// `GET /admin/teams/{id}`.
pub async fn team_page(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<TeamId>,
) -> HttpResponse {
    render_team(
        &state,
        &admin.session,
        *id,
        StatusCode::OK,
        None,
        String::new(),
        Problems::default(),
    )
    .await
}

/// `POST /admin/teams/{id}`: rename, re-zone, move ([`teams::update`]).
pub async fn update_team(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<TeamId>,
) -> HttpResponse {
    let typed = TeamForm {
        name: form.text("name").to_owned(),
        parent_id: form.text("parent_id").to_owned(),
        time_zone: form.text("time_zone").to_owned(),
    };
    let mut problems = Problems::default();
    let Some(parent_id) = uuid_field(&form, "parent_id", &mut problems) else {
        return render_team(
            &state,
            &form.session,
            *id,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(typed),
            String::new(),
            problems,
        )
        .await;
    };
    let body = teams::UpdateTeam {
        name: Some(form.text("name").to_owned()),
        time_zone: Some(form.text("time_zone").to_owned()),
        parent_id: Some(parent_id),
    };
    match teams::update(&state, &form.session.caller.subject, *id, body).await {
        Ok(team) => done(&format!("/admin/teams/{}", team.id)),
        Err(error) => match Problems::from_api(&error) {
            Some(problems) => {
                render_team(
                    &state,
                    &form.session,
                    *id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(typed),
                    String::new(),
                    problems,
                )
                .await
            }
            None => api_error_page(error, &form.session),
        },
    }
}

/// `POST /admin/teams/{id}/delete` ([`teams::delete`]); a team something depends on
/// stays, and its page says what.
pub async fn delete_team(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<TeamId>,
) -> HttpResponse {
    match teams::delete(&state, &form.session.caller.subject, *id).await {
        Ok(()) => done("/admin/teams"),
        Err(error @ ApiError::Conflict { .. }) => {
            let problems = Problems::from_api(&error).unwrap_or_default();
            render_team(
                &state,
                &form.session,
                *id,
                StatusCode::CONFLICT,
                None,
                String::new(),
                problems,
            )
            .await
        }
        Err(error) => api_error_page(error, &form.session),
    }
}

/// `POST /admin/teams/{id}/leaders`: the person with the typed address leads the
/// team ([`teams::add_leader_of`]).
pub async fn add_leader(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<TeamId>,
) -> HttpResponse {
    let typed = form.text("email").to_owned();
    let found = match Email::parse(&typed) {
        Ok(email) => org::find_person_by_email(state.store.connection(), &email).await,
        Err(_) => Ok(None),
    };
    let person = match found {
        Ok(Some(person)) => person,
        Ok(None) => {
            let problems = Problems {
                errors: vec![FieldError::new(
                    "email",
                    "nobody in safepulse has this address",
                )],
            };
            return render_team(
                &state,
                &form.session,
                *id,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                typed,
                problems,
            )
            .await;
        }
        Err(error) => return server_error(&error, Some(&form.session)),
    };
    match teams::add_leader_of(&state, &form.session.caller.subject, *id, person.id).await {
        Ok(()) => done(&format!("/admin/teams/{}", *id)),
        Err(error) => match Problems::from_api(&error) {
            Some(mut problems) => {
                for problem in &mut problems.errors {
                    problem.field = "email".into();
                }
                render_team(
                    &state,
                    &form.session,
                    *id,
                    StatusCode::CONFLICT,
                    None,
                    typed,
                    problems,
                )
                .await
            }
            None => api_error_page(error, &form.session),
        },
    }
}

/// `POST /admin/teams/{id}/leaders/{person_id}/remove` ([`teams::remove_leader_of`]).
pub async fn remove_leader(
    form: AdminForm,
    state: web::Data<AppState>,
    path: web::Path<(TeamId, PersonId)>,
) -> HttpResponse {
    let (team_id, person_id) = path.into_inner();
    match teams::remove_leader_of(&state, &form.session.caller.subject, team_id, person_id).await {
        Ok(()) => done(&format!("/admin/teams/{team_id}")),
        Err(error) => api_error_page(error, &form.session),
    }
}

// ---------------------------------------------------------------------------------
// People

/// The most people a search lists.
const SEARCH_LIMIT: u64 = 100;

#[derive(Debug)]
struct PersonLine {
    person: person::Model,
    team: String,
    roles: Vec<String>,
    leads: usize,
}

#[derive(Debug, Default)]
struct PersonForm {
    email: String,
    name: String,
    team_id: String,
    locale: String,
    time_zone: String,
    active: bool,
    roles: Vec<String>,
}

impl PersonForm {
    fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| held == role)
    }
}

#[derive(Debug, Template)]
#[template(path = "admin/people.html")]
struct PeoplePage<'a> {
    t: Text,
    session: &'a Session,
    query: String,
    people: Vec<PersonLine>,
    limited: bool,
    teams: Vec<TeamEntry>,
    form: PersonForm,
    problems: Problems,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
pub struct PeopleQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    erased: Option<String>,
}

async fn person_lines(
    state: &AppState,
    people: Vec<person::Model>,
    teams: &[TeamEntry],
) -> Result<Vec<PersonLine>, StoreError> {
    let db = state.store.connection();
    let grants = org::all_role_grants(db).await?;
    let leaderships = org::all_leaderships(db).await?;
    Ok(people
        .into_iter()
        .map(|person| PersonLine {
            team: person
                .team_id
                .and_then(|id| teams.iter().find(|entry| entry.id == id))
                .map(|entry| entry.path.clone())
                .unwrap_or_default(),
            roles: grants
                .iter()
                .filter(|grant| grant.person_id == person.id)
                .map(|grant| grant.role.clone())
                .collect(),
            leads: leaderships
                .iter()
                .filter(|leadership| leadership.person_id == person.id)
                .count(),
            person,
        })
        .collect())
}

#[allow(clippy::too_many_arguments)]
async fn render_people(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    query: String,
    form: PersonForm,
    problems: Problems,
    notice_text: Option<&'static str>,
) -> HttpResponse {
    let loaded = async {
        let teams = team_entries(state).await?;
        let found = org::search_people(state.store.connection(), &query, SEARCH_LIMIT + 1).await?;
        let limited = found.len() as u64 > SEARCH_LIMIT;
        let found = found.into_iter().take(SEARCH_LIMIT as usize).collect();
        let people = person_lines(state, found, &teams).await?;
        Ok::<_, StoreError>((teams, people, limited))
    }
    .await;
    match loaded {
        Ok((teams, people, limited)) => html_response(
            status,
            PeoplePage {
                session,
                t: session.text(),
                query,
                people,
                limited,
                teams,
                form,
                problems,
                notice: notice_text,
            }
            .render(),
        ),
        Err(error) => server_error(&error, Some(session)),
    }
}

/// `GET /admin/people?q=`: search, and the form for a new person.
pub async fn people_page(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<PeopleQuery>,
) -> HttpResponse {
    let query = query.into_inner();
    let notice_text = query
        .erased
        .is_some()
        .then(|| admin.session.text().tr("The person was erased."));
    let form = PersonForm {
        locale: "en".into(),
        active: true,
        ..PersonForm::default()
    };
    render_people(
        &state,
        &admin.session,
        StatusCode::OK,
        query.q.trim().to_owned(),
        form,
        Problems::default(),
        notice_text,
    )
    .await
}

fn typed_person(form: &AdminForm) -> PersonForm {
    PersonForm {
        email: form.text("email").to_owned(),
        name: form.text("name").to_owned(),
        team_id: form.text("team_id").to_owned(),
        locale: form.text("locale").to_owned(),
        time_zone: form.text("time_zone").to_owned(),
        active: form.text("active") == "on",
        roles: ["hr", "admin"]
            .into_iter()
            .filter(|role| form.text(&format!("role_{role}")) == "on")
            .map(str::to_owned)
            .collect(),
    }
}

/// `POST /admin/people`: [`people::create`] (as `POST /api/v1/people`), then
/// [`people::grant`] for each ticked role. Leaving the team empty makes someone who
/// holds role grants only and is never surveyed.
pub async fn create_person(form: AdminForm, state: web::Data<AppState>) -> HttpResponse {
    let typed = typed_person(&form);
    let mut problems = Problems::default();
    let Some(team_id) = uuid_field(&form, "team_id", &mut problems) else {
        return render_people(
            &state,
            &form.session,
            StatusCode::UNPROCESSABLE_ENTITY,
            String::new(),
            typed,
            problems,
            None,
        )
        .await;
    };
    let body = people::CreatePerson {
        email: typed.email.clone(),
        name: typed.name.clone(),
        team_id: Some(team_id),
        locale: form.optional("locale"),
        time_zone: form.optional("time_zone"),
    };
    let actor = form.session.caller.subject.clone();
    let person = match people::create(&state, &actor, body).await {
        Ok(person) => person,
        Err(error) => {
            return match Problems::from_api(&error) {
                Some(problems) => {
                    render_people(
                        &state,
                        &form.session,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        String::new(),
                        typed,
                        problems,
                        None,
                    )
                    .await
                }
                None => api_error_page(error, &form.session),
            };
        }
    };
    for role in &typed.roles {
        let granted = match people::GrantableRole::parse(role) {
            Ok(role) => people::grant(&state, &actor, person.id, role).await,
            Err(error) => Err(error),
        };
        if let Err(error) = granted {
            return api_error_page(error, &form.session);
        }
    }
    done(&format!("/admin/people/{}", person.id))
}

#[derive(Debug, Template)]
#[template(path = "admin/person.html")]
struct PersonPage<'a> {
    t: Text,
    session: &'a Session,
    person: person::Model,
    roles: Vec<String>,
    led: Vec<TeamEntry>,
    teams: Vec<TeamEntry>,
    form: PersonForm,
    problems: Problems,
}

async fn render_person(
    state: &AppState,
    session: &Session,
    id: PersonId,
    status: StatusCode,
    form: Option<PersonForm>,
    problems: Problems,
) -> HttpResponse {
    let db = state.store.connection();
    let loaded = async {
        let person = org::get_person(db, id).await?;
        let roles = org::roles_of(db, id).await?;
        let led_ids = org::teams_led_by(db, id).await?;
        let teams = team_entries(state).await?;
        Ok::<_, StoreError>((person, roles, led_ids, teams))
    }
    .await;
    let (person, roles, led_ids, teams) = match loaded {
        Ok(loaded) => loaded,
        Err(StoreError::NotFound) => {
            return notice(StatusCode::NOT_FOUND, AdminNotice::NotFound, Some(session));
        }
        Err(error) => return server_error(&error, Some(session)),
    };
    let led = teams
        .iter()
        .filter(|entry| led_ids.contains(&entry.id))
        .cloned()
        .collect();
    let form = form.unwrap_or_else(|| PersonForm {
        email: person.email.clone(),
        name: person.name.clone(),
        team_id: person.team_id.map(|id| id.to_string()).unwrap_or_default(),
        locale: person.locale.clone(),
        time_zone: person.time_zone.clone().unwrap_or_default(),
        active: person.active,
        roles: roles.clone(),
    });
    html_response(
        status,
        PersonPage {
            session,
            t: session.text(),
            person,
            roles,
            led,
            teams,
            form,
            problems,
        }
        .render(),
    )
}

/// `GET /admin/people/{id}`.
pub async fn person_page(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<PersonId>,
) -> HttpResponse {
    render_person(
        &state,
        &admin.session,
        *id,
        StatusCode::OK,
        None,
        Problems::default(),
    )
    .await
}

/// `POST /admin/people/{id}`: [`people::update`] with every field of the form (as
/// `PATCH /api/v1/people/{id}`); unticking "active" deactivates, which revokes every
/// token and session of theirs.
pub async fn update_person(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<PersonId>,
) -> HttpResponse {
    let typed = typed_person(&form);
    let mut problems = Problems::default();
    let Some(team_id) = uuid_field(&form, "team_id", &mut problems) else {
        return render_person(
            &state,
            &form.session,
            *id,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(typed),
            problems,
        )
        .await;
    };
    let body = people::UpdatePerson {
        email: Some(typed.email.clone()),
        name: Some(typed.name.clone()),
        team_id: Some(team_id),
        locale: Some(typed.locale.clone()),
        time_zone: Some(form.optional("time_zone")),
        active: Some(typed.active),
    };
    match people::update(&state, &form.session.caller.subject, *id, body).await {
        Ok(person) => done(&format!("/admin/people/{}", person.id)),
        Err(error) => match Problems::from_api(&error) {
            Some(problems) => {
                render_person(
                    &state,
                    &form.session,
                    *id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(typed),
                    problems,
                )
                .await
            }
            None => api_error_page(error, &form.session),
        },
    }
}

/// `POST /admin/people/{id}/roles`: [`people::grant`] of the chosen role.
pub async fn grant_role(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<PersonId>,
) -> HttpResponse {
    let granted = match people::GrantableRole::parse(form.text("role")) {
        Ok(role) => people::grant(&state, &form.session.caller.subject, *id, role).await,
        Err(error) => Err(error),
    };
    match granted {
        Ok(()) => done(&format!("/admin/people/{}", *id)),
        Err(error) => match Problems::from_api(&error) {
            Some(problems) => {
                render_person(
                    &state,
                    &form.session,
                    *id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    problems,
                )
                .await
            }
            None => api_error_page(error, &form.session),
        },
    }
}

/// `POST /admin/people/{id}/roles/{role}/revoke`: [`people::revoke`], which also
/// revokes their tokens and sessions of that role.
pub async fn revoke_role(
    form: AdminForm,
    state: web::Data<AppState>,
    path: web::Path<(PersonId, String)>,
) -> HttpResponse {
    let (id, role) = path.into_inner();
    let revoked = match people::GrantableRole::parse(&role) {
        Ok(role) => people::revoke(&state, &form.session.caller.subject, id, role).await,
        Err(error) => Err(error),
    };
    match revoked {
        Ok(()) => done(&format!("/admin/people/{id}")),
        Err(error) => api_error_page(error, &form.session),
    }
}

#[derive(Debug, Template)]
#[template(path = "admin/erase.html")]
struct ErasePage<'a> {
    t: Text,
    session: &'a Session,
    person: person::Model,
}

/// `GET /admin/people/{id}/erase`: what erasure destroys and what it keeps, and the
/// button.
pub async fn erase_confirmation(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<PersonId>,
) -> HttpResponse {
    match org::get_person(state.store.connection(), *id).await {
        Ok(person) => html_response(
            StatusCode::OK,
            ErasePage {
                session: &admin.session,
                t: admin.session.text(),
                person,
            }
            .render(),
        ),
        Err(StoreError::NotFound) => notice(
            StatusCode::NOT_FOUND,
            AdminNotice::NotFound,
            Some(&admin.session),
        ),
        Err(error) => server_error(&error, Some(&admin.session)),
    }
}

/// `POST /admin/people/{id}/erase`: [`people::erase`], as `DELETE /api/v1/people/{id}`.
pub async fn erase_person(
    form: AdminForm,
    state: web::Data<AppState>,
    id: web::Path<PersonId>,
) -> HttpResponse {
    match people::erase(&state, &form.session.caller.subject, *id).await {
        Ok(()) => done("/admin/people?erased=1"),
        Err(error) => api_error_page(error, &form.session),
    }
}

// ---------------------------------------------------------------------------------
// CSV import

#[derive(Debug, Template)]
#[template(path = "admin/import.html")]
struct ImportPage<'a> {
    t: Text,
    session: &'a Session,
    problem: Option<String>,
}

/// `GET /admin/import`: the upload form.
pub async fn import_page(admin: Admin) -> HttpResponse {
    html_response(
        StatusCode::OK,
        ImportPage {
            session: &admin.session,
            t: admin.session.text(),
            problem: None,
        }
        .render(),
    )
}

#[derive(Debug, Template)]
#[template(path = "admin/import_preview.html")]
struct ImportPreviewPage<'a> {
    t: Text,
    session: &'a Session,
    rows: Vec<PreviewRow>,
    csv: String,
    created: usize,
    updated: usize,
    unchanged: usize,
    rejected: usize,
}

/// `POST /admin/import`: every line's outcome ([`import::preview_people`]: the
/// import's own decisions, rolled back), and a form to apply the same file.
pub async fn import_preview(form: AdminForm, state: web::Data<AppState>) -> HttpResponse {
    let csv = session_field_owned(&form, "file");
    if csv.trim().is_empty() {
        return html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            ImportPage {
                session: &form.session,
                t: form.session.text(),
                problem: Some(form.session.text().tr("Choose a CSV file first.").into()),
            }
            .render(),
        );
    }
    match import::preview_people(&state.store, csv.as_bytes(), state.clock.now()).await {
        Ok(rows) => {
            let count = |wanted: fn(&PreviewOutcome) -> bool| {
                rows.iter().filter(|row| wanted(&row.outcome)).count()
            };
            let created = count(|outcome| *outcome == PreviewOutcome::Created);
            let updated = count(|outcome| *outcome == PreviewOutcome::Updated);
            let unchanged = count(|outcome| *outcome == PreviewOutcome::Unchanged);
            let rejected = count(|outcome| matches!(outcome, PreviewOutcome::Rejected(_)));
            html_response(
                StatusCode::OK,
                ImportPreviewPage {
                    session: &form.session,
                    t: form.session.text(),
                    rows,
                    csv,
                    created,
                    updated,
                    unchanged,
                    rejected,
                }
                .render(),
            )
        }
        Err(error) => server_error(&error, Some(&form.session)),
    }
}

fn session_field_owned(form: &AdminForm, name: &str) -> String {
    crate::pages::session::field(&form.fields, name)
        .unwrap_or_default()
        .to_owned()
}

#[derive(Debug, Template)]
#[template(path = "admin/import_done.html")]
struct ImportDonePage<'a> {
    t: Text,
    session: &'a Session,
    report: ImportReport,
}

/// `POST /admin/import/apply`: [`import::import_people`], as
/// `POST /api/v1/people/import` (nothing when a row is invalid, unless the admin
/// chose to apply the valid rows).
pub async fn import_apply(form: AdminForm, state: web::Data<AppState>) -> HttpResponse {
    let csv = session_field_owned(&form, "csv");
    let partial = form.text("partial") == "on";
    match import::import_people(
        &state.store,
        csv.as_bytes(),
        partial,
        &form.session.caller.subject,
        state.clock.now(),
    )
    .await
    {
        Ok(report) => html_response(
            if report.applied {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            ImportDonePage {
                session: &form.session,
                t: form.session.text(),
                report,
            }
            .render(),
        ),
        Err(error) => server_error(&error, Some(&form.session)),
    }
}
