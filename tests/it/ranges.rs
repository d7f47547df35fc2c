//! Byte ranges and HEAD on data answers, as polars', pyarrow's and DuckDB's HTTP readers ask.

use reqwest::header;

use crate::support::{client, loaded, serve};

#[tokio::test]
async fn a_csv_answer_is_read_in_parts_as_analytics_tools_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::router()).await;
    let core = loaded(&dir, upstream, &[]).await;
    let base = format!("http://{}", serve(almanac::http::router(core)).await);
    let day = almanac::domain::Timestamp::now()
        .plus(-3 * 86_400)
        .utc_date();
    let url = format!("{base}/api/v1/locations/madrid/weather?start={day}&end={day}&format=csv");

    let whole = client().get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()[header::ACCEPT_RANGES], "bytes");
    let etag = whole.headers()[header::ETAG].clone();
    let body = whole.bytes().await.unwrap();
    let length = body.len();
    assert!(length > 200);

    let head = client().head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()[header::CONTENT_LENGTH],
        length.to_string().as_str()
    );

    let part = |range: &'static str| {
        let url = url.clone();
        async move {
            client()
                .get(&url)
                .header(header::RANGE, range)
                .send()
                .await
                .unwrap()
        }
    };
    let first = part("bytes=0-99").await;
    assert_eq!(first.status(), 206);
    assert_eq!(
        first.headers()[header::CONTENT_RANGE],
        format!("bytes 0-99/{length}").as_str()
    );
    assert_eq!(first.bytes().await.unwrap(), body.slice(0..100));
    let tail = part("bytes=-50").await;
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap(), body.slice(length - 50..));
    let past = part("bytes=999999-").await;
    assert_eq!(past.status(), 416);
    assert_eq!(
        past.headers()[header::CONTENT_RANGE],
        format!("bytes */{length}").as_str()
    );
    let json: serde_json::Value = serde_json::from_slice(&past.bytes().await.unwrap()).unwrap();
    assert_eq!(json["code"], "range_not_satisfiable");

    // If-Range: the part only of the answer the client holds; another gets the whole answer.
    let same = client()
        .get(&url)
        .header(header::RANGE, "bytes=10-19")
        .header(header::IF_RANGE, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 206);
    let other = client()
        .get(&url)
        .header(header::RANGE, "bytes=10-19")
        .header(header::IF_RANGE, "\"an-older-answer\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(other.bytes().await.unwrap(), body);
}
