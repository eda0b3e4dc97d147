//! The verify stage, one thread, against ed25519-dalek's raw batch verification of the same
//! messages on one core, in the same run.
//!
//! Both sides get the same 4,096 signed order requests (64 keys), in batches of 64. The baseline
//! is `ed25519_dalek::verify_batch` on the signing strings alone (the keys already decompressed,
//! the messages already built): the physical floor of batch verification. The stage does all its
//! work per request: parse the JSON body into a command, rebuild the signing string, hash the
//! replay digest, look the key up, pre-check `R`, verify the batch, write the verdict.
//!
//! Also measures what one bad signature per batch costs everyone else in it (issue 19 item 8):
//! the same requests with one signature in each batch of 64 replaced by a signature over another
//! message (well formed, so only the batch equation can catch it), against the clean run:
//! `bad_signature_batch_cost: <clean requests/s / tainted requests/s>`.
//!
//! Prints requests/s for each, then `verify_vs_raw_batch: <stage / raw>` on its last line.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, Throughput};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use ringex::config::Config;
use ringex::net::http::{Framed, frame, header_slots};
use ringex::net::{copy_request, route_of};
use ringex::overflow::OverflowPool;
use ringex::records::{RequestSlot, Verdict};
use ringex::types::AccountKey;
use ringex::verify::Verifier;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const REQUESTS: usize = 4096;
const BATCH: usize = 64;
const KEYS: usize = 64;

/// The request in each batch whose signature is bad in the tainted run.
const TAINTED_INDEX_IN_BATCH: usize = 17;

struct Material {
    requests: Vec<Vec<u8>>,
    /// `requests` with one bad signature per batch.
    tainted: Vec<Vec<u8>>,
    messages: Vec<Vec<u8>>,
    signatures: Vec<Signature>,
    keys: Vec<VerifyingKey>,
    timestamp_ms: u64,
}

fn material() -> Material {
    let signing: Vec<SigningKey> =
        (0..KEYS).map(|i| SigningKey::from_bytes(&[i as u8 + 1; 32])).collect();
    let timestamp_ms = ringex::clock::wall_ms();
    let mut material = Material {
        requests: Vec::new(),
        tainted: Vec::new(),
        messages: Vec::new(),
        signatures: Vec::new(),
        keys: Vec::new(),
        timestamp_ms,
    };
    for index in 0..REQUESTS {
        let key = &signing[index % KEYS];
        let price = format!("{}.{:02}", 140 + index % 20, index % 100);
        let body = format!(
            r#"{{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"{price}","quantity":"1.25","clientId":{index}}}"#
        );
        let message = format!(
            "instruction=orderExecute&clientId={index}&orderType=Limit&price={price}&quantity=1.25&side=Bid&symbol=SOL_USDC&timestamp={timestamp_ms}&window=60000"
        );
        let signature = key.sign(message.as_bytes());
        let request = |signature: &Signature| {
            format!(
                "POST /api/v1/order HTTP/1.1\r\nX-API-Key: {}\r\nX-Signature: {}\r\nX-Timestamp: {timestamp_ms}\r\nX-Window: 60000\r\nContent-Length: {}\r\n\r\n{body}",
                STANDARD.encode(key.verifying_key().as_bytes()),
                STANDARD.encode(signature.to_bytes()),
                body.len()
            )
            .into_bytes()
        };
        material.requests.push(request(&signature));
        let tainted = if index % BATCH == TAINTED_INDEX_IN_BATCH {
            request(&key.sign(b"another message"))
        } else {
            request(&signature)
        };
        material.tainted.push(tainted);
        material.messages.push(message.into_bytes());
        material.signatures.push(signature);
        material.keys.push(key.verifying_key());
    }
    material
}

/// Slots framed from the requests, as net-in fills them.
fn framed_slots(requests: &[Vec<u8>]) -> Vec<Box<RequestSlot>> {
    requests
        .iter()
        .map(|request| {
            let mut slot = Box::new(RequestSlot::empty());
            let mut headers = header_slots();
            let Framed::Complete(framed) = frame(request, &mut headers) else { panic!() };
            let (route, _) = route_of(&framed).unwrap();
            copy_request(&mut slot, &framed, route, None);
            slot
        })
        .collect()
}

fn raw_batches(material: &Material) {
    for start in (0..REQUESTS).step_by(BATCH) {
        let messages: Vec<&[u8]> =
            material.messages[start..start + BATCH].iter().map(Vec::as_slice).collect();
        let result = ed25519_dalek::verify_batch(
            &messages,
            &material.signatures[start..start + BATCH],
            &material.keys[start..start + BATCH],
        );
        assert!(result.is_ok());
        black_box(result.is_ok());
    }
}

fn stage_batches(
    verifier: &mut Verifier,
    slots: &mut [Box<RequestSlot>],
    overflow: &OverflowPool,
    now_ms: u64,
) {
    for batch in slots.chunks_mut(BATCH) {
        let mut references: Vec<&mut RequestSlot> =
            batch.iter_mut().map(|slot| &mut **slot).collect();
        verifier.verify(&mut references[..], overflow, now_ms);
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn main() {
    let material = material();
    let overflow = OverflowPool::with_buffers(1);
    let mut verifier = Verifier::new(Arc::new(Config::embedded_default()), AccountKey([0; 32]));
    let mut slots = framed_slots(&material.requests);
    let mut tainted = framed_slots(&material.tainted);
    let now_ms = material.timestamp_ms;
    // Sanity: the stage accepts every request, and every one but the bad signatures when tainted.
    stage_batches(&mut verifier, &mut slots, &overflow, now_ms);
    assert!(
        slots.iter().all(|slot| matches!(slot.verdict, Verdict::Commands { count: 1 })),
        "{:?}",
        slots[0].verdict
    );
    stage_batches(&mut verifier, &mut tainted, &overflow, now_ms);
    for (index, slot) in tainted.iter().enumerate() {
        let accepted = matches!(slot.verdict, Verdict::Commands { count: 1 });
        assert_eq!(accepted, index % BATCH != TAINTED_INDEX_IN_BATCH, "{index}");
    }

    // Profiling aid: `RINGEX_VERIFY_PROFILE=stage|raw` runs one side alone for ~10 s.
    if let Ok(side) = std::env::var("RINGEX_VERIFY_PROFILE") {
        let started = Instant::now();
        while started.elapsed().as_secs() < 10 {
            match side.as_str() {
                "raw" => raw_batches(&material),
                _ => stage_batches(&mut verifier, &mut slots, &overflow, now_ms),
            }
        }
        return;
    }
    let mut criterion = Criterion::default().configure_from_args().sample_size(10);
    let mut group = criterion.benchmark_group("verify");
    group.throughput(Throughput::Elements(REQUESTS as u64));
    group.bench_function("raw_batch_64", |bench| bench.iter(|| raw_batches(&material)));
    group.bench_function("stage_batch_64", |bench| {
        bench.iter(|| stage_batches(&mut verifier, &mut slots, &overflow, now_ms))
    });
    group.finish();

    // The summary: alternate the two, many rounds, median requests/s of each.
    let mut raw = Vec::new();
    let mut stage = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        raw_batches(&material);
        raw.push(REQUESTS as f64 / started.elapsed().as_secs_f64());
        let started = Instant::now();
        stage_batches(&mut verifier, &mut slots, &overflow, now_ms);
        stage.push(REQUESTS as f64 / started.elapsed().as_secs_f64());
    }
    let (raw, stage) = (median(raw), median(stage));
    let (batches, fallbacks) = verifier.batch_statistics();
    // One bad signature per batch, alternated with clean batches.
    let mut clean = Vec::new();
    let mut with_bad = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        stage_batches(&mut verifier, &mut slots, &overflow, now_ms);
        clean.push(REQUESTS as f64 / started.elapsed().as_secs_f64());
        let started = Instant::now();
        stage_batches(&mut verifier, &mut tainted, &overflow, now_ms);
        with_bad.push(REQUESTS as f64 / started.elapsed().as_secs_f64());
    }
    let (clean, with_bad) = (median(clean), median(with_bad));
    println!(
        "raw batch verification (ed25519-dalek verify_batch, 64/batch): {raw:.0} signatures/s"
    );
    println!(
        "verify stage, one thread (parse + signing string + digest + batch verify): {stage:.0} requests/s"
    );
    println!(
        "signature batches {batches}, failed batches searched for their bad members {fallbacks}"
    );
    println!(
        "verify stage, one bad signature in each batch of {BATCH}: {with_bad:.0} requests/s (clean: {clean:.0})"
    );
    println!("bad_signature_batch_cost: {:.3}", clean / with_bad);
    println!("verify_vs_raw_batch: {:.3}", stage / raw);
}
