//! Blogs of the location: sites, authors, categories and posts (`/blogs/...`).
//!
//! The location has two blogs, two authors and three categories from the start (fixed
//! ids); posts are created and updated through the API. A post's `blogId`, `author` and
//! `categories` must name existing records (400 otherwise); `urlSlug` is lowercase
//! words joined by hyphens and unique in the location, which Check Blog URL Slug
//! reports (`postId` excludes the post being edited). Lists page with offset/limit
//! (posts, authors, categories) or skip/limit (blogs). Unknown ids → 400.

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

use super::associations::object_id;
use super::context::{Ctx, Reply};
use super::errors::ApiError;
use super::ids::iso;
use super::store::Store;
use super::tasks::parse_due_date;

const SEED: u64 = 0x0062_6c6f_6773;

#[derive(Debug, Default)]
pub struct Blogs {
    ready: bool,
    /// `(id, name)`.
    pub sites: Vec<(String, String)>,
    /// `(id, name)`.
    pub authors: Vec<(String, String)>,
    /// `(id, label, urlSlug)`.
    pub categories: Vec<(String, String, String)>,
    pub posts: Vec<Post>,
    seeded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub id: String,
    pub blog_id: String,
    pub title: String,
    pub description: String,
    pub image_url: String,
    pub image_alt_text: String,
    pub raw_html: String,
    pub status: String,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub author: String,
    pub url_slug: String,
    pub canonical_link: Option<String>,
    pub published_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Post {
    fn render(&self) -> Value {
        let mut v = json!({
            "_id": self.id,
            "title": self.title,
            "description": self.description,
            "imageUrl": self.image_url,
            "imageAltText": self.image_alt_text,
            "status": self.status,
            "archived": self.status == "ARCHIVED",
            "categories": self.categories,
            "tags": self.tags,
            "author": self.author,
            "urlSlug": self.url_slug,
            "publishedAt": iso(self.published_at),
            "updatedAt": iso(self.updated_at),
        });
        if let Some(c) = &self.canonical_link {
            v["canonicalLink"] = json!(c);
        }
        v
    }
}

fn ensure(store: &mut Store) {
    if store.other.blogs.ready {
        return;
    }
    let mut rng = StdRng::seed_from_u64(SEED);
    let b = &mut store.other.blogs;
    b.sites = ["Company News", "Product Updates"]
        .iter()
        .map(|n| (object_id(&mut rng), n.to_string()))
        .collect();
    b.authors = ["Emma Owner", "Lucas Writer"]
        .iter()
        .map(|n| (object_id(&mut rng), n.to_string()))
        .collect();
    b.categories = [
        ("Announcements", "announcements"),
        ("Guides", "guides"),
        ("Customer Stories", "customer-stories"),
    ]
    .iter()
    .map(|(l, s)| (object_id(&mut rng), l.to_string(), s.to_string()))
    .collect();
    b.seeded_at = Some(DateTime::<Utc>::UNIX_EPOCH);
    b.ready = true;
}

fn site_link(store: &Store, path: &str) -> String {
    format!("https://emulator.example/{}/{path}", store.location_id)
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// `offset`/`skip` and `limit` (both required by the table).
fn window(ctx: &Ctx, start: &str) -> Result<(usize, usize), ApiError> {
    let at = usize::try_from(ctx.query_number(start, 0, 0, None)?).unwrap_or(0);
    let limit = usize::try_from(ctx.query_number("limit", 10, 1, None)?).unwrap_or(10);
    Ok((at, limit))
}

/// `GET /blogs/site/all?locationId&skip&limit&searchTerm`.
pub fn sites(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let (skip, limit) = window(ctx, "skip")?;
    let term = ctx.query("searchTerm").map(str::to_lowercase);
    let data: Vec<Value> = store
        .other
        .blogs
        .sites
        .iter()
        .filter(|(_, n)| term.as_ref().is_none_or(|t| n.to_lowercase().contains(t)))
        .skip(skip)
        .take(limit)
        .map(|(id, name)| json!({ "_id": id, "name": name }))
        .collect();
    Ok(Reply::ok(ctx, json!({ "data": data })))
}

/// `GET /blogs/authors?locationId&limit&offset`.
pub fn authors(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let (offset, limit) = window(ctx, "offset")?;
    let updated = iso(store.other.blogs.seeded_at.unwrap_or_default());
    let authors: Vec<Value> = store
        .other
        .blogs
        .authors
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(id, name)| {
            json!({
                "_id": id,
                "name": name,
                "locationId": store.location_id,
                "updatedAt": updated,
                "canonicalLink": site_link(store, &format!("author/{id}")),
            })
        })
        .collect();
    Ok(Reply::ok(ctx, json!({ "authors": authors })))
}

/// `GET /blogs/categories?locationId&limit&offset`.
pub fn categories(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let (offset, limit) = window(ctx, "offset")?;
    let updated = iso(store.other.blogs.seeded_at.unwrap_or_default());
    let categories: Vec<Value> = store
        .other
        .blogs
        .categories
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(id, label, slug)| {
            json!({
                "_id": id,
                "label": label,
                // The spec requires `name` though it declares only `label`: send both.
                "name": label,
                "locationId": store.location_id,
                "updatedAt": updated,
                "canonicalLink": site_link(store, &format!("category/{slug}")),
                "urlSlug": slug,
            })
        })
        .collect();
    Ok(Reply::ok(ctx, json!({ "categories": categories })))
}

/// `GET /blogs/posts/all?locationId&blogId&limit&offset&searchTerm&status`: newest
/// publication first.
pub fn posts(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let (offset, limit) = window(ctx, "offset")?;
    let blog_id = ctx.query("blogId").unwrap_or_default();
    if !store.other.blogs.sites.iter().any(|(id, _)| id == blog_id) {
        return Err(bad("Blog not found"));
    }
    let term = ctx.query("searchTerm").map(str::to_lowercase);
    let mut rows: Vec<&Post> = store
        .other
        .blogs
        .posts
        .iter()
        .filter(|p| p.blog_id == blog_id)
        .filter(|p| ctx.query("status").is_none_or(|s| p.status == s))
        .filter(|p| {
            term.as_ref().is_none_or(|t| {
                p.title.to_lowercase().contains(t) || p.description.to_lowercase().contains(t)
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.published_at
            .cmp(&a.published_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    let blogs: Vec<Value> = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(Post::render)
        .collect();
    Ok(Reply::ok(ctx, json!({ "blogs": blogs })))
}

/// Lowercase letters and digits in words joined by single hyphens.
fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 200
        && slug.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn slug_taken(store: &Store, slug: &str, except: Option<&str>) -> bool {
    store
        .other
        .blogs
        .posts
        .iter()
        .any(|p| p.url_slug == slug && Some(p.id.as_str()) != except)
}

/// `GET /blogs/posts/url-slug-exists?urlSlug&locationId&postId`.
pub fn slug_exists(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let slug = ctx.query("urlSlug").unwrap_or_default();
    let exists = slug_taken(store, slug, ctx.query("postId"));
    Ok(Reply::ok(ctx, json!({ "exists": exists })))
}

fn strings(ctx: &Ctx, name: &str) -> Vec<String> {
    ctx.body
        .get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Check a create/update body; `except` is the post being updated.
fn post_from(
    store: &Store,
    ctx: &Ctx,
    id: String,
    except: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Post, ApiError> {
    let text = |name: &str| ctx.body_str(name).unwrap_or_default().to_string();
    let title = text("title").trim().to_string();
    if title.is_empty() {
        return Err(ApiError::unprocessable("title should not be empty"));
    }
    let blogs = &store.other.blogs;
    let blog_id = text("blogId");
    if !blogs.sites.iter().any(|(b, _)| *b == blog_id) {
        return Err(bad("Blog not found"));
    }
    let author = text("author");
    if !blogs.authors.iter().any(|(a, _)| *a == author) {
        return Err(bad(format!("Author {author} not found")));
    }
    let categories = strings(ctx, "categories");
    if let Some(c) = categories
        .iter()
        .find(|c| !blogs.categories.iter().any(|(id, _, _)| id == *c))
    {
        return Err(bad(format!("Category {c} not found")));
    }
    let slug = text("urlSlug");
    if !valid_slug(&slug) {
        return Err(ApiError::unprocessable(
            "urlSlug must contain only lowercase letters, digits and single hyphens",
        ));
    }
    if slug_taken(store, &slug, except) {
        return Err(bad(format!("URL slug {slug} already exists")));
    }
    let published_at = parse_due_date(&text("publishedAt")).ok_or_else(|| {
        ApiError::unprocessable("publishedAt must be a valid ISO 8601 date string")
    })?;
    Ok(Post {
        id,
        blog_id,
        title,
        description: text("description"),
        image_url: text("imageUrl"),
        image_alt_text: text("imageAltText"),
        raw_html: text("rawHTML"),
        status: text("status"),
        categories,
        tags: strings(ctx, "tags"),
        author,
        url_slug: slug,
        canonical_link: ctx.body_str("canonicalLink").map(str::to_string),
        published_at,
        updated_at: now,
    })
}

/// `POST /blogs/posts`.
pub fn create_post(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let now = store.now();
    let id = object_id(&mut store.rng);
    let post = post_from(store, ctx, id, None, now)?;
    let body = json!({ "data": post.render() });
    store.other.blogs.posts.push(post);
    Ok(Reply::ok(ctx, body))
}

/// `PUT /blogs/posts/{postId}`: replaces the post (the spec requires every field).
pub fn update_post(store: &mut Store, ctx: &Ctx) -> Result<Reply, ApiError> {
    ensure(store);
    let id = ctx.path("postId").to_string();
    let pos = store
        .other
        .blogs
        .posts
        .iter()
        .position(|p| p.id == id)
        .ok_or_else(|| bad("Blog post not found"))?;
    let now = store.now();
    let post = post_from(store, ctx, id.clone(), Some(&id), now)?;
    let body = json!({ "updatedBlogPost": post.render() });
    store.other.blogs.posts[pos] = post;
    Ok(Reply::ok(ctx, body))
}
