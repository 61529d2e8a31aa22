//! `workbench seed --demo`: a newcomer's demo database, filled through the same services (and so
//! the same rules) as every client: the demo catalogue of `workbench_products::demo`, and a demo
//! user with a few tasks and owned products whose warranties show every state of the overview; a
//! team project where the demo user is admin beside an editor and a viewer; a share link, with a
//! password, to a generated PDF; a market where the editor offers an item and proposes to swap
//! it for one of the demo user's; and a conversation between the demo user and the editor with
//! unread messages, an edit, a reaction and an attachment.

use anyhow::Context;
use chrono::Utc;
use workbench_chat::ChatError;
use workbench_core::TypeFailures;
use workbench_files::{FileId, PdfRequest, ShareLinkDraft};
use workbench_products::{
    CategoryDraft, CategoryId, Product, ProductError, ProductFilter, UserProductId, UserProductPatch, demo, today,
};
use workbench_projects::{MemberDraft, ProjectDraft, ProjectRole};
use workbench_store::DieselUserRepository;
use workbench_trades::TradeDraft;
use workbench_users::{AuthError, NewAccount, Principal, Role, UserId, UserQuery, UserRepository, UserStatus};

use workbench_http::AppState;

use crate::wiring::Wired;

/// The demo account's password (a demo database is not for production).
pub const DEMO_PASSWORD: &str = "demo-password-123";

/// What seeding made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub categories: usize,
    pub products: usize,
    pub username: String,
    pub email: String,
    pub password: &'static str,
    pub tasks: usize,
    pub owned: usize,
    pub team: TeamReport,
    /// The open trade `sam` proposed to the demo user (`None` when the collection is empty).
    pub trade: Option<i64>,
    /// How many of `sam`'s direct messages the demo user has not read.
    pub unread: usize,
}

/// The demo team: a project, its members with their roles, and a share link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamReport {
    pub project: String,
    /// `(username, role)`, the demo user first.
    pub members: Vec<(String, &'static str)>,
    /// Where anyone may download the demo user's profile PDF, with [`SHARE_PASSWORD`].
    pub share_url: String,
    /// The project's id and what its board shows: a subtask and a blocker.
    pub board: (i64, workbench_tasks::DemoBoard),
}

/// The demo share link's password.
pub const SHARE_PASSWORD: &str = "for-the-plumber";

/// Fills the database. Refuses when any account exists, unless `force`: then the catalogue's
/// existing categories (by slug) are kept and only missing ones are added, with their products,
/// and the demo user gets a fresh name when `demo` is taken.
pub async fn demo(wired: &Wired, force: bool) -> anyhow::Result<SeedReport> {
    let state = &wired.state;
    let users = DieselUserRepository::new(wired.db.clone());
    let existing = users.list(UserQuery::default()).await.context("counting accounts")?.total;
    if existing > 0 && !force {
        anyhow::bail!("the database already has {existing} account(s); seed only an empty one, or pass --force");
    }
    // The seeder acts as the system, with an admin's rights over the catalogue.
    let system = Principal { id: UserId(0), role: Role::Admin, status: UserStatus::Active, token_generation: 0 };
    let (categories, products) = catalogue(state, &system).await?;

    let (user, email) = demo_account(state).await?;
    let owner = Principal::from(&user);
    let mut tasks = 0;
    for draft in workbench_tasks::demo_tasks(Utc::now()) {
        state.tasks.create(&owner, draft).await.map_err(|e| anyhow::anyhow!("demo task: {e}"))?;
        tasks += 1;
    }
    let all = state
        .catalogue
        .products(ProductFilter::default(), workbench_core::PageRequest::new(Some(1), Some(100))?)
        .await?
        .items;
    let mut owned = 0;
    let mut first_item = None;
    for draft in demo::collection(&all, today()) {
        match state.collection.create(&owner, draft).await {
            Ok(item) => {
                owned += 1;
                first_item.get_or_insert(item.id);
            }
            Err(ProductError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let (team, sam, profile) = team(state, &owner, &user.username).await?;
    let unread = conversation(state, &owner, &sam, profile).await?;
    let trade = match first_item {
        Some(item) => Some(market(state, &owner, item, &sam, &all).await?),
        None => None,
    };
    Ok(SeedReport {
        categories,
        products,
        username: user.username,
        email,
        password: DEMO_PASSWORD,
        tasks,
        owned,
        team,
        trade,
        unread,
    })
}

/// The demo user sends sam their profile PDF (which sam may then download) and sam reacts to it;
/// sam answers twice, correcting the first answer, and the demo user has not read either yet.
/// How many are unread.
async fn conversation(
    state: &AppState,
    owner: &Principal,
    sam: &workbench_users::User,
    attachment: FileId,
) -> anyhow::Result<usize> {
    let chat = &state.chat;
    let sam_principal = Principal::from(sam);
    let failed = |e: ChatError| anyhow::anyhow!("demo conversation: {e}");
    let text = "Here is my profile for the plumber, with my phone number.";
    let sent = chat.send_direct(owner, sam.id.0, text, &[attachment.0]).await.map_err(failed)?;
    chat.react(&sam_principal, sent.id.0, "👍").await.map_err(failed)?;
    let answers = ["Thanks! The tiles arive on Tuesday.", "Could you check which oven model we ordered?"];
    let mut ids = Vec::new();
    for text in answers {
        ids.push(chat.send_direct(&sam_principal, owner.id.0, text, &[]).await.map_err(failed)?.id);
    }
    chat.edit(&sam_principal, ids[0].0, "Thanks! The tiles arrive on Tuesday.").await.map_err(failed)?;
    Ok(answers.len())
}

/// The market: one of the demo user's items and one of sam's offered, and sam's open proposal to
/// swap them; the trade's id.
async fn market(
    state: &AppState,
    owner: &Principal,
    owner_item: UserProductId,
    sam: &workbench_users::User,
    all: &[Product],
) -> anyhow::Result<i64> {
    let sam = Principal::from(sam);
    let draft = demo::collection(all, today()).into_iter().next().context("the demo collection is empty")?;
    let sam_item = state.collection.create(&sam, draft).await?.id;
    let offer = || UserProductPatch { tradeable: Some(Some(true)), ..UserProductPatch::default() };
    state.collection.update(&sam, sam_item, offer(), None).await?;
    state.collection.update(owner, owner_item, offer(), None).await?;
    let draft = TradeDraft {
        recipient_id: Some(owner.id.0),
        offered_item_ids: Some(vec![sam_item.0]),
        requested_item_ids: Some(vec![owner_item.0]),
        message: Some("Mine for yours? Both still under warranty.".to_owned()),
        ..TradeDraft::default()
    };
    let trade = state.trades.propose(&sam, draft).await.map_err(|e| anyhow::anyhow!("demo trade: {e}"))?;
    Ok(trade.id.0)
}

/// A project of the demo user's with two teammates of other roles, and a share link (with a
/// password, five downloads) to the demo user's profile as a PDF; and the editor's account.
async fn team(
    state: &AppState,
    owner: &Principal,
    owner_name: &str,
) -> anyhow::Result<(TeamReport, workbench_users::User, FileId)> {
    let draft = ProjectDraft {
        name: Some("Kitchen renovation".to_owned()),
        description: Some("Tiles, taps and the new oven: who does what, and by when.".to_owned()),
        type_failures: TypeFailures::default(),
    };
    let project = state.projects.create(owner, draft).await.map_err(|e| anyhow::anyhow!("demo project: {e}"))?;
    let mut members = vec![(owner_name.to_owned(), ProjectRole::Admin.as_str())];
    let mut editor = None;
    for (base, role) in [("sam", ProjectRole::Editor), ("kim", ProjectRole::Viewer)] {
        let (mate, _) = account(state, base).await?;
        if role == ProjectRole::Editor {
            editor = Some(mate.clone());
        }
        let draft = MemberDraft {
            user_id: Some(mate.id.0),
            role: Some(role.as_str().to_owned()),
            type_failures: TypeFailures::default(),
        };
        state
            .projects
            .add_member(owner, project.project.id, draft)
            .await
            .map_err(|e| anyhow::anyhow!("demo member: {e}"))?;
        members.push((mate.username, role.as_str()));
    }
    // The project's board: buckets, fields, tasks every member sees (the editor does the first),
    // a subtask and a blocker.
    let editor_id = editor.as_ref().map(|e| e.id);
    let board = state.tasks.demo_board(owner, project.project.id, editor_id).await;
    let board = (project.project.id.0, board.map_err(|e| anyhow::anyhow!("demo board: {e}"))?);
    let pdf = state.files.render_pdf(owner, PdfRequest::Profile).await.map_err(|e| anyhow::anyhow!("demo PDF: {e}"))?;
    let link = ShareLinkDraft {
        password: Some(SHARE_PASSWORD.to_owned()),
        max_downloads: Some(5),
        ..ShareLinkDraft::default()
    };
    let issued = state.shares.create(owner, pdf.id, link).await.map_err(|e| anyhow::anyhow!("demo share link: {e}"))?;
    let report = TeamReport {
        project: project.project.name,
        members,
        share_url: format!("{}/s/{}", state.web.public_url, issued.token.expose()),
        board,
    };
    Ok((report, editor.context("the demo team has an editor")?, pdf.id))
}

/// Adds the demo catalogue; returns how many categories and products were added.
async fn catalogue(state: &AppState, system: &Principal) -> anyhow::Result<(usize, usize)> {
    let (mut categories, mut products) = (0, 0);
    for entry in demo::catalogue() {
        let Some(category) = add_category(state, system, entry.category).await? else { continue };
        categories += 1;
        for draft in entry.products {
            let draft = workbench_products::ProductDraft { category_id: Some(category.0), ..draft };
            let _: Product = state.catalogue.create_product(system, draft).await?;
            products += 1;
        }
    }
    Ok((categories, products))
}

/// Creates a category; `None` when its slug is taken (seeded before).
async fn add_category(
    state: &AppState,
    system: &Principal,
    draft: CategoryDraft,
) -> anyhow::Result<Option<CategoryId>> {
    match state.catalogue.create_category(system, draft).await {
        Ok(category) => Ok(Some(category.id)),
        Err(ProductError::Conflict { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The demo account: `demo`, or `demo-N` when that is taken.
async fn demo_account(state: &AppState) -> anyhow::Result<(workbench_users::User, String)> {
    account(state, "demo").await
}

/// An account named `base`, or `base-N` when that is taken, with [`DEMO_PASSWORD`].
async fn account(state: &AppState, base: &str) -> anyhow::Result<(workbench_users::User, String)> {
    for n in 1..=100 {
        let name = if n == 1 { base.to_owned() } else { format!("{base}-{n}") };
        let email = format!("{name}@example.com");
        let account = NewAccount::parse(Some(name), Some(email.clone()), Some(DEMO_PASSWORD.to_owned()))
            .map_err(|e| anyhow::anyhow!("demo account: {e}"))?;
        match state.auth.register(account, Role::User).await {
            Ok(user) => return Ok((user, email)),
            Err(AuthError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("every {base} account name is taken")
}
