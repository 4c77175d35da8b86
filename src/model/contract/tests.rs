use super::*;

fn spec(name: &str, shape: &[i64]) -> TensorSpec {
    TensorSpec {
        name: name.into(),
        element_type: "f32".into(),
        shape: shape.to_vec(),
    }
}

fn card() -> ModelCard {
    parse_card(
        r#"{"sample_rate": 16000, "classes": ["angry", "sad", "happy", "neutral"],
            "frame_hop_s": 0.02, "n_experts": 3, "top_k": 1, "model": "m", "version": "1"}"#,
    )
    .unwrap()
}

fn good() -> (Vec<TensorSpec>, Vec<TensorSpec>) {
    (
        vec![spec("waveform", &[-1, -1])],
        vec![
            spec("emotion_logits", &[-1, 4]),
            spec("enhanced", &[-1, -1]),
            spec("ser_gate", &[-1, -1, 3]),
            spec("se_gate", &[-1, -1, 3]),
        ],
    )
}

#[test]
fn a_conforming_model_passes() {
    let (inputs, outputs) = good();
    assert_eq!(
        check_contract(&inputs, &outputs, &card()),
        Ok(ContractShape {
            has_trajectory: false,
            statistics_size: None
        })
    );
}

#[test]
fn a_speaker_relative_model_has_the_reference_input_and_statistics_output() {
    let (mut inputs, mut outputs) = good();
    let mut relative = card();
    relative.speaker_relative = true;
    // The metadata says relative but the graph has no reference input.
    assert!(matches!(
        check_contract(&inputs, &outputs, &relative),
        Err(ContractError::Inputs { needed, .. }) if needed == "waveform, speaker_reference"
    ));
    inputs.push(spec(REFERENCE_INPUT, &[-1, 64]));
    assert!(matches!(
        check_contract(&inputs, &outputs, &relative),
        Err(ContractError::Outputs { .. })
    ));
    outputs.push(spec(STATISTICS_OUTPUT, &[-1, 64]));
    assert_eq!(
        check_contract(&inputs, &outputs, &relative).map(|s| s.statistics_size),
        Ok(Some(64))
    );
    // With the trajectory between them too.
    relative.trajectory_window_s = Some(3.0);
    outputs.insert(4, spec(TRAJECTORY_OUTPUT, &[-1, -1, 4]));
    assert_eq!(
        check_contract(&inputs, &outputs, &relative),
        Ok(ContractShape {
            has_trajectory: true,
            statistics_size: Some(64)
        })
    );
    outputs[5].shape = vec![-1, 32];
    assert!(matches!(
        check_contract(&inputs, &outputs, &relative),
        Err(ContractError::StatisticsSize { name, found: 32, .. }) if name == STATISTICS_OUTPUT
    ));
    inputs[1].shape = vec![-1, -1];
    assert!(matches!(
        check_contract(&inputs, &outputs, &relative),
        Err(ContractError::StatisticsSize { .. })
    ));
    // A model that is not speaker-relative must not have them.
    assert!(matches!(
        check_contract(&inputs, &outputs, &card()),
        Err(ContractError::Inputs { .. })
    ));
}

#[test]
fn gender_references_must_fit_the_reference_input() {
    let (mut inputs, mut outputs) = good();
    inputs.push(spec(REFERENCE_INPUT, &[-1, 4]));
    outputs.push(spec(STATISTICS_OUTPUT, &[-1, 4]));
    let mut relative = card();
    relative.speaker_relative = true;
    relative
        .gender_references
        .insert("female".into(), vec![0.1, 0.2, 0.3, 0.4]);
    assert_eq!(
        check_contract(&inputs, &outputs, &relative).map(|s| s.statistics_size),
        Ok(Some(4))
    );
    relative
        .gender_references
        .insert("male".into(), vec![0.1, 0.2, 0.3]);
    assert!(matches!(
        check_contract(&inputs, &outputs, &relative),
        Err(ContractError::StatisticsSize { name, found: 3, .. }) if name == "gender_references.male"
    ));
    relative
        .gender_references
        .insert("male".into(), vec![0.1, f32::NAN, 0.3, 0.4]);
    assert!(check_contract(&inputs, &outputs, &relative).is_err());
    // Only a speaker-relative model may carry them.
    let (inputs, outputs) = good();
    let mut plain = card();
    plain.gender_references.insert("female".into(), vec![0.0]);
    assert!(matches!(
        check_contract(&inputs, &outputs, &plain),
        Err(ContractError::BadMetadata(_))
    ));
}

#[test]
fn the_trajectory_output_is_optional_and_checked() {
    let (inputs, mut outputs) = good();
    outputs.push(spec(TRAJECTORY_OUTPUT, &[-1, -1, 4]));
    assert!(matches!(
        check_contract(&inputs, &outputs, &card()),
        Err(ContractError::BadMetadata(_))
    ));
    let mut with_window = card();
    with_window.trajectory_window_s = Some(3.0);
    assert!(
        check_contract(&inputs, &outputs, &with_window)
            .unwrap()
            .has_trajectory
    );
    outputs[4].shape = vec![-1, -1, 5];
    assert!(matches!(
        check_contract(&inputs, &outputs, &with_window),
        Err(ContractError::ClassCount { name, .. }) if name == TRAJECTORY_OUTPUT
    ));
    outputs[4].name = "extra".into();
    assert!(matches!(
        check_contract(&inputs, &outputs, &with_window),
        Err(ContractError::Outputs { .. })
    ));
}

#[test]
fn each_difference_is_named() {
    let (inputs, mut outputs) = good();
    outputs[0].name = "logits".into();
    let error = check_contract(&inputs, &outputs, &card()).unwrap_err();
    assert!(error.to_string().contains("logits, enhanced"), "{error}");

    let (inputs, mut outputs) = good();
    outputs[0].shape = vec![-1, 8];
    assert_eq!(
        check_contract(&inputs, &outputs, &card()),
        Err(ContractError::ClassCount {
            name: "emotion_logits".into(),
            outputs: 8,
            named: 4
        })
    );

    let (mut inputs, outputs) = good();
    inputs[0].shape = vec![-1, -1, 1];
    assert!(matches!(
        check_contract(&inputs, &outputs, &card()),
        Err(ContractError::Rank { .. })
    ));

    let (mut inputs, outputs) = good();
    inputs[0].element_type = "f16".into();
    assert!(matches!(
        check_contract(&inputs, &outputs, &card()),
        Err(ContractError::ElementType { .. })
    ));

    let (inputs, mut outputs) = good();
    outputs[3].shape = vec![-1, -1, 5];
    assert!(matches!(
        check_contract(&inputs, &outputs, &card()),
        Err(ContractError::ExpertCount { .. })
    ));
}

#[test]
fn metadata_problems_are_reported() {
    assert!(matches!(
        parse_card("{"),
        Err(ContractError::BadMetadata(_))
    ));
    let wrong_rate = r#"{"sample_rate": 8000, "classes": ["a"], "frame_hop_s": 0.02,
        "n_experts": 2, "top_k": 1, "model": "m", "version": "1"}"#;
    assert_eq!(parse_card(wrong_rate), Err(ContractError::SampleRate(8000)));
    let bad_k = r#"{"sample_rate": 16000, "classes": ["a"], "frame_hop_s": 0.02,
        "n_experts": 2, "top_k": 3, "model": "m", "version": "1"}"#;
    assert!(matches!(
        parse_card(bad_k),
        Err(ContractError::BadMetadata(_))
    ));
}

#[test]
fn the_cards_frame_hop_must_match_the_models_outputs() {
    let mut card = parse_card(
        r#"{"sample_rate": 16000, "classes": ["a"], "frame_hop_s": 0.02,
        "n_experts": 2, "top_k": 1, "model": "m", "version": "1"}"#,
    )
    .unwrap();
    // A WavLM-style front end: 8,000 samples give 24 frames, 16,000 give 49.
    assert_eq!(frame_hop_samples(&card, (8_000, 24), (16_000, 49)), Ok(320));
    card.frame_hop_s = 0.01;
    assert!(matches!(
        frame_hop_samples(&card, (8_000, 24), (16_000, 49)),
        Err(ContractError::FrameHop { measured_s, .. }) if (measured_s - 0.02).abs() < 1e-9
    ));
    assert!(frame_hop_samples(&card, (8_000, 24), (16_000, 24)).is_err());
}
