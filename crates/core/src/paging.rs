//! Pagination as async streams, whatever the paging style.
//!
//! A style is a function from a cursor to one page and the next cursor; [`pages`] turns
//! it into a stream of items that stops when there is no next cursor.

use std::future::Future;

use futures::stream::{self, Stream, TryStreamExt};

use crate::error::Result;

/// One page of items and the cursor for the next one (`None` at the end).
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

/// Stream every item of every page, starting from cursor `first`.
pub fn pages<T, C, F, Fut>(first: C, mut fetch: F) -> impl Stream<Item = Result<T>>
where
    F: FnMut(C) -> Fut,
    Fut: Future<Output = Result<Page<T, C>>>,
{
    stream::try_unfold(Some(first), move |cursor| {
        let fut = cursor.map(&mut fetch);
        async move {
            match fut {
                None => Ok(None),
                Some(fut) => {
                    let page = fut.await?;
                    Ok(Some((
                        stream::iter(page.items.into_iter().map(Ok)),
                        page.next,
                    )))
                }
            }
        }
    })
    .try_flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn walks_all_pages() {
        let all: Vec<u32> = pages(0u32, |start| async move {
            let items: Vec<u32> = (start..(start + 10).min(35)).collect();
            let next = if start + 10 < 35 {
                Some(start + 10)
            } else {
                None
            };
            Ok(Page { items, next })
        })
        .try_collect()
        .await
        .unwrap();
        assert_eq!(all, (0..35).collect::<Vec<_>>());
    }
}
