//! Every parameter of every cached route separates answers: each request is answered from a
//! server whose cache holds the answers to all the requests before it, and must equal the answer
//! of a server without a cache. A bad parameter is a 400 whether or not a good answer is cached.

use almanac::core::Core;
use almanac::domain::{Dataset, Step, TimeRange, Timestamp};

use crate::support::{client, config, loaded, serve};

async fn body(base: &str, path: &str) -> (u16, Option<String>, bytes::Bytes) {
    let response = client().get(format!("{base}{path}")).send().await.unwrap();
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, cache, response.bytes().await.unwrap())
}

#[tokio::test]
async fn each_parameter_of_each_cached_route_keys_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = serve(almanac::demo::upstream::router()).await;
    let cached = loaded(&dir, upstream, &[]).await;
    // Holes of 2 and 4 hours, so that fill methods and gap limits give different answers.
    let now = Timestamp::now().floor(Step::HOUR);
    let day = now.plus(-5 * 86_400).floor(Step::DAY);
    for series in cached
        .store
        .series("madrid", Dataset::Weather)
        .await
        .unwrap()
    {
        for (from, hours) in [(3, 2), (10, 4)] {
            let start = day.plus(from * 3_600);
            let range = TimeRange {
                start,
                end: start.plus(hours * 3_600),
            };
            cached.store.delete(series.id, range).await.unwrap();
        }
    }
    let plain = Core::open(config(&dir, upstream, &[("ALMANAC__HTTP__CACHE_MB", "0")]))
        .await
        .unwrap();
    let with_cache = format!("http://{}", serve(almanac::http::router(cached)).await);
    let without = format!("http://{}", serve(almanac::http::router(plain)).await);

    let (d, d1) = (day.utc_date(), day.plus(86_400).utc_date());
    let native = format!("/api/v1/locations/madrid/weather?start={d}&end={d1}");
    // (Unlike the native requests, which would be the same answers for the same location.)
    let point = format!("/api/v1/point/weather?start={d}&end={d1}&variables=pressure");
    let seed = "/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/historical-weather-optimized";
    let traffic = "/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/historical-traffic-optimized";
    let d2 = day.plus(2 * 86_400).utc_date();
    let routes: Vec<Vec<String>> = vec![
        vec![
            native.clone(),
            format!("/api/v1/locations/madrid/weather?start={d}&end={d2}"),
            format!("/api/v1/locations/madrid/weather?start={d1}&end={d2}"),
            format!("{native}&variables=temperature"),
            format!("{native}&variables=temperature,humidity"),
            format!("{native}&resolution=hour"),
            format!("{native}&resolution=day"),
            format!("{native}&format=csv"),
            format!("{native}&format=csv&flags=true"),
            format!("{native}&fill=locf"),
            format!("{native}&fill=linear"),
            format!("{native}&fill=linear&max_gap=5"),
            format!("/api/v1/locations/madrid/energy_price?start={d}&end={d1}"),
        ],
        vec![
            format!("{point}&lat=40.42&lon=-3.70"),
            format!("{point}&lat=40.42&lon=-3.70&format=csv"),
            format!("{point}&lat=40.42&lon=-3.70&format=csv&flags=true"),
        ],
        vec![
            format!("{seed}?latitude=40.42&longitude=-3.70&start_date={d}&end_date={d}"),
            format!("{seed}?latitude=40.42&longitude=-3.70&start_date={d}&end_date={d1}"),
            format!("{seed}?latitude=40.42&longitude=-3.70&start_date={d1}&end_date={d1}"),
        ],
        vec![
            format!("{traffic}?latitude=40.42&longitude=-3.70&start_date={d}&end_date={d}"),
            format!("{traffic}?latitude=40.42&longitude=-3.70&start_date={d}&end_date={d1}"),
        ],
    ];
    for paths in &routes {
        let mut seen: Vec<bytes::Bytes> = Vec::new();
        for path in paths {
            let (status, cache, got) = body(&with_cache, path).await;
            let (plain_status, _, expected) = body(&without, path).await;
            assert_eq!((status, plain_status), (200, 200), "{path}");
            assert_eq!(
                cache.as_deref(),
                Some("miss"),
                "{path} found another's answer"
            );
            assert_eq!(got, expected, "{path}");
            seen.push(got);
            // Asked again, it is the cached answer, and still the same.
            let (_, cache, again) = body(&with_cache, path).await;
            assert_eq!(
                (cache.as_deref(), &again),
                (Some("hit"), &expected),
                "{path}"
            );
        }
        // Each request of a route asks for a different answer (else the test proves nothing),
        // except traffic, which this store does not hold.
        let mut distinct = seen.clone();
        distinct.sort();
        distinct.dedup();
        if !paths[0].contains("traffic") {
            assert_eq!(distinct.len(), seen.len(), "{paths:#?}");
        }
    }
    let metrics = crate::support::metrics_text(&with_cache).await;
    let counted = |name: &str| crate::support::metric(&metrics, name).unwrap_or(0.0);
    let asked: usize = routes.iter().map(Vec::len).sum();
    assert_eq!(
        counted("external_cache_miss_total"),
        asked as f64,
        "{metrics}"
    );
    assert_eq!(
        counted("external_cache_hit_total"),
        asked as f64,
        "{metrics}"
    );
    for bad in [
        format!("{native}&flags=bogus"),
        format!("{native}&format=xml"),
        format!("{native}&resolution=week"),
        format!("{native}&fill=cubic"),
        format!("{native}&fill=linear&max_gap=0"),
        format!("{native}&max_gap=abc"),
        format!("{native}&variables=nope"),
        format!("{point}&lat=100&lon=-3.70"),
        format!("{seed}?latitude=40.42&longitude=-3.70&start_date={d}&end_date=never"),
    ] {
        let (status, _, got) = body(&with_cache, &bad).await;
        assert_eq!(status, 400, "{bad}: {}", String::from_utf8_lossy(&got));
    }
}
