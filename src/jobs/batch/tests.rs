use super::*;

fn inputs(count: usize) -> Vec<BatchInput> {
    (0..count)
        .map(|index| BatchInput {
            index,
            path: PathBuf::from(format!("/c/{index}.wav")),
            listed: format!("spk{}/utt{index}.wav", index % 7),
            voice: Voice::default(),
        })
        .collect()
}

#[test]
fn shards_partition_the_inputs() {
    let all = inputs(1000);
    let mut seen: Vec<usize> = (1..=4)
        .flat_map(|k| shard(all.clone(), k, 4))
        .map(|i| i.index)
        .collect();
    let sizes: Vec<usize> = (1..=4).map(|k| shard(all.clone(), k, 4).len()).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    assert!(sizes.iter().all(|&s| (200..300).contains(&s)), "{sizes:?}");
    assert_eq!(shard(all.clone(), 1, 1), all);
}

#[test]
fn shard_text_is_checked() {
    assert_eq!(parse_shard("2/8"), Ok((2, 8)));
    for bad in ["0/3", "4/3", "x/3", "3", "1/0"] {
        assert!(parse_shard(bad).is_err(), "{bad}");
    }
}

#[test]
fn outputs_never_escape_the_folder() {
    assert_eq!(
        crate::fsio::safe_relative("a/b.wav"),
        PathBuf::from("a/b.wav")
    );
    assert_eq!(
        crate::fsio::safe_relative("/abs/x.wav"),
        PathBuf::from("abs/x.wav")
    );
    assert_eq!(
        crate::fsio::safe_relative("../../etc/x.wav"),
        PathBuf::from("etc/x.wav")
    );
}
