//! The studio window driven through egui_kittest (no display, no renderer needed), with the tiny
//! model, a private analysis cache and a fake audio sink that the test pulls samples from.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{FakeSink, Wav, broken_files, demo_project, settle, sine, tiny_model};
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use merit_studio::annotation::ClassSource;
use merit_studio::playback::Track;
use merit_studio::ui::{Playback, StudioApp};

/// The harness, the fake sound card and the app's cache folder. Bind `_cache` when destructuring:
/// `..` would drop the folder while the app still writes into it.
struct Studio {
    harness: Harness<'static, StudioApp>,
    sink: FakeSink,
    _cache: tempfile::TempDir,
}

fn studio(path: &std::path::Path) -> Studio {
    let sink = FakeSink::default();
    let cache = tempfile::tempdir().unwrap();
    let app = StudioApp::open(path, None, Playback::Sink(Box::new(sink.clone())))
        .with_model(tiny_model())
        .with_cache_dir(Some(cache.path().to_path_buf()));
    let harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(|ui, app: &mut StudioApp| app.studio_ui(ui), app);
    Studio {
        harness,
        sink,
        _cache: cache,
    }
}

#[test]
fn demo_project_lists_its_recordings_and_selects_on_click() {
    let Studio {
        mut harness,
        _cache,
        ..
    } = studio(&demo_project());
    settle(&mut harness);
    // It starts on the first recording (nothing labelled yet), analysed as it opens.
    assert_eq!(harness.state().selected(), Some(0));
    harness.get_by_label_contains("6 recordings · 1 analysed · 0 broken");
    harness.get_by_label("Demo: synthetic noisy emotional speech");
    harness.get_by_label("audio/neutral_f2.ogg").click();
    settle(&mut harness);
    assert_eq!(harness.state().selected(), Some(3));
    harness.get_by_label("0:03.722");
}

#[test]
fn selecting_analyses_and_shows_every_pane_and_plays_a_b() {
    let Studio {
        mut harness,
        sink,
        _cache,
    } = studio(&demo_project());
    settle(&mut harness);
    assert_eq!(harness.state().selected(), Some(0));
    for pane in [
        "Time ruler",
        "Original",
        "Enhanced (Sparse MERIT)",
        "Emotion trajectory",
        "SER router",
        "SE router",
    ] {
        harness.get_by_label(pane);
    }
    harness.get_by_label_contains("1 analysed");

    // Space plays; the fake device pulls audio and the playhead moves.
    let transport = harness.state().transport().clone();
    harness.key_press(Key::Space);
    harness.run_steps(2);
    assert!(transport.is_playing());
    let original = sink.pull(1_600);
    assert_eq!(transport.position_samples(), 1_600);
    // B switches to the enhanced track at the same position.
    harness.key_press(Key::B);
    harness.run_steps(2);
    assert_eq!(transport.track(), Track::Enhanced);
    assert_eq!(transport.position_samples(), 1_600);
    let enhanced = sink.pull(1_600);
    assert_ne!(original, enhanced);
    // C: RNNoise, the classic baseline, as a third source at the same position.
    harness.key_press(Key::C);
    harness.run_steps(2);
    assert_eq!(transport.track(), Track::Rnnoise);
    let rnnoise = sink.pull(1_600);
    assert_ne!(rnnoise, enhanced);
    assert_eq!(transport.position_samples(), 4_800);
    harness.key_press(Key::Space);
    harness.run_steps(2);
    assert!(!transport.is_playing());

    // Down moves on to the next recording (and stops playback).
    harness.key_press(Key::ArrowDown);
    settle(&mut harness);
    assert_eq!(harness.state().selected(), Some(1));
}

#[test]
fn the_whole_collection_is_analysed_from_the_footer() {
    let Studio {
        mut harness,
        _cache,
        ..
    } = studio(&demo_project());
    settle(&mut harness);
    harness.get_by_label("Analyse all").click();
    settle(&mut harness);
    harness.get_by_label_contains("6 recordings · 6 analysed");
    assert_eq!(harness.query_all_by_label("analysed").count(), 6);
}

#[test]
fn search_and_sort_reorder_the_browser() {
    let Studio {
        mut harness,
        _cache,
        ..
    } = studio(&demo_project());
    settle(&mut harness);
    harness.get_by_label("Duration").click();
    harness.run();
    let top =
        |harness: &Harness<'static, StudioApp>, name: &str| harness.get_by_label(name).rect().top();
    // Shortest first: happy_m2 (3.20 s), neutral_m3 (3.25 s) ... sad_f1 (5.63 s).
    assert!(top(&harness, "audio/happy_m2.mp3") < top(&harness, "audio/neutral_m3.wav"));
    assert!(top(&harness, "audio/neutral_m3.wav") < top(&harness, "audio/sad_f1.flac"));
    harness.get_by_label("Duration ^").click();
    harness.run();
    assert!(top(&harness, "audio/sad_f1.flac") < top(&harness, "audio/happy_m2.mp3"));
    let search = egui::accesskit::Role::TextInput;
    harness.get_by_role_and_label(search, "Search").click();
    harness.run();
    harness
        .get_by_role_and_label(search, "Search")
        .type_text("sad");
    harness.run();
    assert!(harness.query_by_label("audio/happy_m2.mp3").is_none());
    harness.get_by_label("audio/sad_f1.flac");
}

/// A copy of the demo project under `dir`, alice writing, the first recording open.
fn alice_on_the_first_recording(dir: &std::path::Path) -> (std::path::PathBuf, Studio) {
    let project = common::copy_demo(dir);
    let mut studio = studio(&project);
    studio.harness.state_mut().set_annotator("alice");
    settle(&mut studio.harness);
    (project, studio)
}

#[test]
fn labelling_with_the_keyboard_alone_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let (
        project,
        Studio {
            mut harness,
            _cache,
            ..
        },
    ) = alice_on_the_first_recording(dir.path());
    let file = "audio/angry_m1.wav";
    let class_of = |harness: &Harness<'static, StudioApp>, who: &str| {
        let label = harness.state().annotations().label(file, who).cloned();
        label.map(|l| (l.class.unwrap_or_default(), l.source))
    };
    harness.key_press(Key::Num2);
    harness.run();
    assert_eq!(
        class_of(&harness, "alice"),
        Some(("sad".into(), ClassSource::Human))
    );
    harness.key_press(Key::Y);
    harness.run();
    let (accepted, source) = class_of(&harness, "alice").unwrap();
    assert_eq!(source, ClassSource::AcceptedModel);
    // Y records which model proposed the class: the tiny model's blake3 hash.
    let proposed_by = harness
        .state()
        .annotations()
        .label(file, "alice")
        .unwrap()
        .model
        .clone();
    let tiny_hash = merit_studio::fsio::blake3_of_files(&[&tiny_model()]).unwrap();
    assert_eq!(proposed_by, Some(tiny_hash));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run();
    assert_eq!(
        class_of(&harness, "alice"),
        Some(("sad".into(), ClassSource::Human))
    );
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    harness.run();
    assert_eq!(
        class_of(&harness, "alice"),
        Some((accepted, ClassSource::AcceptedModel))
    );
    // Enter opens the next recording in the review queue (an unreviewed one).
    harness.key_press(Key::Enter);
    settle(&mut harness);
    let next = harness.state().selected().unwrap();
    assert_ne!(next, 0);
    // Another annotator, typed into the header; their labels go to their own journal.
    let field = egui::accesskit::Role::TextInput;
    harness.get_by_role_and_label(field, "Annotator").click();
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness
        .get_by_role_and_label(field, "Annotator")
        .type_text("bob");
    harness.key_press(Key::Tab);
    harness.run();
    assert_eq!(harness.state().annotations().annotator(), Some("bob"));
    harness.get_by_label(file).click();
    settle(&mut harness);
    harness.key_press(Key::Num1);
    harness.run();
    assert_eq!(
        class_of(&harness, "bob"),
        Some(("angry".into(), ClassSource::Human))
    );
    drop(harness);
    // All of it is on disk, in two journals.
    let store = merit_studio::annotation::AnnotationStore::load(&project).unwrap();
    assert_eq!(store.annotators(), vec!["alice", "bob"]);
    assert_eq!(
        store.label(file, "bob").and_then(|l| l.class.as_deref()),
        Some("angry")
    );
    assert_eq!(
        store.label(file, "alice").map(|l| l.source),
        Some(ClassSource::AcceptedModel)
    );
}

#[test]
fn labels_are_exported_from_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let (
        _,
        Studio {
            mut harness,
            _cache,
            ..
        },
    ) = alice_on_the_first_recording(dir.path());
    harness.key_press(Key::Num3);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::E);
    harness.run();
    harness.get_by_label("Choose a folder and export…");
    let out = dir.path().join("exports");
    std::fs::create_dir_all(&out).unwrap();
    harness.state_mut().export_to(&out);
    settle(&mut harness);
    harness.get_by_label_contains("exported 1 recordings to");
    let folders: Vec<_> = std::fs::read_dir(&out).unwrap().flatten().collect();
    assert_eq!(folders.len(), 1, "one new folder");
    let csv = std::fs::read_to_string(folders[0].path().join("labels_consensus.csv")).unwrap();
    assert!(csv.contains("audio/angry_m1.wav,H,"), "{csv}");
}

#[test]
fn the_palette_lists_commands_with_their_shortcuts() {
    let Studio {
        mut harness,
        _cache,
        ..
    } = studio(&demo_project());
    settle(&mut harness);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::K);
    harness.run();
    harness.get_by_label("Zoom to the selection");
    harness.get_by_label("Switch original / enhanced (A/B)");
    // Segment editing is listed with the rest.
    harness.get_by_label("Split the segment at the playhead");
    harness.get_by_label("Nudge the selected boundary 100 ms later");
    harness.get_by_label("Show / hide the comments");
    harness.key_press(Key::Escape);
    harness.run();
    assert!(harness.query_by_label("Zoom to the selection").is_none());
}

#[test]
fn broken_files_are_marked_and_nothing_panics() {
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_files(dir.path());
    Wav::pcm16(16_000, 1, &sine(300.0, 16_000, 8_000, 1)).write(&dir.path().join("fine.wav"));
    let Studio {
        mut harness,
        _cache,
        ..
    } = studio(dir.path());
    settle(&mut harness);
    // The browser reads headers only; damage deeper in a file shows once it is decoded.
    let broken_in_headers = broken
        .iter()
        .filter(|(path, _)| merit_studio::audio::probe(path).is_err())
        .count();
    assert!(broken_in_headers >= 5, "{broken_in_headers}");
    // The first recording is opened at start: damage its decoding finds shows too.
    let first = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| merit_studio::audio::has_audio_extension(p))
        .min()
        .unwrap();
    let first_broken_deeper = merit_studio::audio::probe(&first).is_ok()
        && merit_studio::audio::decode_file(&first, merit_studio::audio::DecodeOptions::default())
            .is_err();
    assert_eq!(
        harness.query_all_by_label("broken").count(),
        broken_in_headers + usize::from(first_broken_deeper)
    );
    harness.get_by_label_contains(&format!(
        "{} broken",
        broken_in_headers + usize::from(first_broken_deeper)
    ));
    // A broken recording opened in the view says why; walking through all of them never panics.
    harness.get_by_label("text.wav").click();
    settle(&mut harness);
    harness.get_by_label_contains("cannot open this recording");
    for _ in 0..broken.len() + 1 {
        harness.key_press(Key::ArrowDown);
        settle(&mut harness);
    }
    harness.get_by_label("fine.wav");
}

/// The image drawn inside the pane called `pane` (a texture of its own, not the font atlas).
fn pane_texture(harness: &Harness<'static, StudioApp>, pane: &str) -> egui::TextureId {
    let pane_rect = harness.get_by_label(pane).rect().expand(1.0);
    harness
        .output()
        .shapes
        .iter()
        .map(|clipped| &clipped.shape)
        .find(|shape| {
            shape.texture_id() != egui::TextureId::default()
                && pane_rect.contains_rect(shape.visual_bounding_rect())
        })
        .map(egui::Shape::texture_id)
        .expect("the pane draws an image")
}

#[test]
fn switching_between_same_length_recordings_redraws_the_heatmap() {
    let dir = tempfile::tempdir().unwrap();
    // Same length and zoom, different sound: only the data tells the two heatmaps apart.
    Wav::pcm16(16_000, 1, &sine(150.0, 16_000, 32_000, 1)).write(&dir.path().join("a_low.wav"));
    Wav::pcm16(16_000, 1, &sine(2_500.0, 16_000, 32_000, 1)).write(&dir.path().join("b_high.wav"));
    let Studio {
        mut harness,
        _cache,
        ..
    } = studio(dir.path());
    settle(&mut harness);
    let first = pane_texture(&harness, "SER router");
    harness.key_press(Key::ArrowDown);
    settle(&mut harness);
    assert_eq!(harness.state().selected(), Some(1));
    let second = pane_texture(&harness, "SER router");
    assert_ne!(first, second, "the second recording's heatmap is its own");
    // Back to the first: drawn afresh from its own data, not the image last cached for the pane.
    harness.key_press(Key::ArrowUp);
    settle(&mut harness);
    let again = pane_texture(&harness, "SER router");
    assert_ne!(again, second);
}

#[test]
fn an_unopenable_path_shows_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let Studio {
        mut harness,
        _cache,
        ..
    } = studio(&dir.path().join("missing-project"));
    settle(&mut harness);
    harness.get_by_label_contains("no such file or folder");
    harness.get_by_label("no project open");
}

/// The current annotator's segments as (start, end, class), times to the millisecond.
fn segments_of(harness: &Harness<'static, StudioApp>, file: &str) -> Vec<(f64, f64, String)> {
    let store = harness.state().annotations();
    let Some(label) = store.label(file, store.annotator().unwrap()) else {
        return Vec::new();
    };
    label
        .segments
        .iter()
        .map(|s| {
            let ms = |t: f64| (t * 1000.0).round() / 1000.0;
            (ms(s.start_s), ms(s.end_s), s.class.clone())
        })
        .collect()
}

#[test]
fn segments_are_made_nudged_split_merged_labelled_and_deleted_with_keys_only() {
    let dir = tempfile::tempdir().unwrap();
    let (
        project,
        Studio {
            mut harness,
            sink,
            _cache,
        },
    ) = alice_on_the_first_recording(dir.path());
    let file = "audio/angry_m1.wav";
    let transport = harness.state().transport().clone();
    let (alt, alt_shift) = (Modifiers::ALT, Modifiers::ALT | Modifiers::SHIFT);
    let seg = |a: f64, b: f64, class: &str| (a, b, class.to_owned());
    // Keys are handled in the next frames; while playing the window repaints continuously.
    let press = |harness: &mut Harness<'static, StudioApp>, modifiers, key| {
        harness.key_press_modifiers(modifiers, key);
        harness.run_steps(2);
    };
    let none = Modifiers::NONE;

    // Playing: M at 0.5 s starts a segment, M at 1.5 s ends it (the label's class, else the first).
    press(&mut harness, none, Key::Space);
    sink.pull(8_000);
    press(&mut harness, none, Key::M);
    harness.get_by_label_contains("M again ends it");
    sink.pull(16_000);
    press(&mut harness, none, Key::M);
    assert_eq!(segments_of(&harness, file), vec![seg(0.5, 1.5, "angry")]);
    // The new segment is selected, its start boundary first; E switches to the end.
    press(&mut harness, none, Key::E);
    press(&mut harness, alt, Key::ArrowRight);
    assert_eq!(segments_of(&harness, file), vec![seg(0.5, 1.51, "angry")]);
    press(&mut harness, alt_shift, Key::ArrowLeft);
    assert_eq!(segments_of(&harness, file), vec![seg(0.5, 1.41, "angry")]);
    press(&mut harness, none, Key::E);
    press(&mut harness, alt, Key::ArrowLeft);
    assert_eq!(segments_of(&harness, file), vec![seg(0.49, 1.41, "angry")]);
    // Nudging past the start of the recording stops there.
    for _ in 0..6 {
        press(&mut harness, alt_shift, Key::ArrowLeft);
    }
    assert_eq!(segments_of(&harness, file), vec![seg(0.0, 1.41, "angry")]);
    press(&mut harness, alt_shift, Key::ArrowRight);
    press(&mut harness, alt_shift, Key::ArrowRight);
    assert_eq!(segments_of(&harness, file), vec![seg(0.2, 1.41, "angry")]);

    // P plays the segment from its start (no edit moved the playhead); X splits 0.4 s in.
    press(&mut harness, none, Key::P);
    assert!(transport.is_playing());
    sink.pull(6_400);
    press(&mut harness, none, Key::X);
    assert_eq!(
        segments_of(&harness, file),
        vec![seg(0.2, 0.6, "angry"), seg(0.6, 1.41, "angry")]
    );
    // The second half is selected: 3 sets its class (not the recording's).
    press(&mut harness, none, Key::Num3);
    assert_eq!(
        segments_of(&harness, file),
        vec![seg(0.2, 0.6, "angry"), seg(0.6, 1.41, "happy")]
    );
    let label = |h: &Harness<'static, StudioApp>| {
        h.state()
            .annotations()
            .label(file, "alice")
            .cloned()
            .unwrap()
    };
    assert_eq!(label(&harness).class, None);
    // Comma selects the first half; J merges it with the next (its own class wins).
    press(&mut harness, none, Key::Comma);
    press(&mut harness, none, Key::J);
    assert_eq!(segments_of(&harness, file), vec![seg(0.2, 1.41, "angry")]);
    // A split and a merge are one undo step each.
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert_eq!(segments_of(&harness, file).len(), 2);
    press(&mut harness, Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    assert_eq!(segments_of(&harness, file), vec![seg(0.2, 1.41, "angry")]);
    // Q snaps the selected (start) boundary to the quietest 10 ms within 50 ms; undone again.
    let decoded = merit_studio::audio::decode_file(
        &project.join(file),
        merit_studio::audio::DecodeOptions::default(),
    )
    .unwrap();
    let quiet = merit_studio::audio::energy::quietest_point(&decoded.analysis, 16_000, 0.2, 0.05);
    press(&mut harness, none, Key::Q);
    let snapped = segments_of(&harness, file)[0].0;
    assert!(
        (snapped - (quiet * 1000.0).round() / 1000.0).abs() < 1e-9,
        "{snapped} {quiet}"
    );
    assert!((snapped - 0.2).abs() <= 0.05 + 1e-9);
    press(&mut harness, Modifiers::COMMAND, Key::Z);
    assert_eq!(segments_of(&harness, file), vec![seg(0.2, 1.41, "angry")]);
    // Playing on, it pauses exactly at the segment's end.
    sink.pull(16_000);
    harness.run_steps(2);
    assert!(!transport.is_playing());
    assert_eq!(transport.position_samples(), 22_560);

    // A mark inside a segment is refused, with the rule; nothing changes.
    press(&mut harness, none, Key::P);
    sink.pull(1_600);
    press(&mut harness, none, Key::Space);
    press(&mut harness, none, Key::M);
    harness.get_by_label_contains("is inside segment");
    assert_eq!(segments_of(&harness, file), vec![seg(0.2, 1.41, "angry")]);

    // A second segment touching the first; then auto-play runs from the first into the second.
    press(&mut harness, none, Key::Space);
    sink.pull(20_000);
    harness.run_steps(2);
    assert_eq!(
        transport.position_samples(),
        22_560,
        "a pause keeps the stop point"
    );
    press(&mut harness, none, Key::M);
    press(&mut harness, none, Key::Space);
    sink.pull(8_000);
    press(&mut harness, none, Key::M);
    press(&mut harness, none, Key::Space);
    assert_eq!(
        segments_of(&harness, file),
        vec![seg(0.2, 1.41, "angry"), seg(1.41, 1.91, "angry")]
    );
    press(&mut harness, none, Key::Comma);
    press(&mut harness, Modifiers::SHIFT, Key::P);
    harness.get_by_label("auto-play next: on");
    press(&mut harness, none, Key::P);
    sink.pull(20_000);
    harness.run_steps(2);
    assert!(transport.is_playing(), "the next segment plays");
    sink.pull(16_000);
    harness.run_steps(2);
    assert!(!transport.is_playing());
    assert_eq!(transport.position_samples(), 30_560);
    // Delete removes the selected (second) segment, Escape deselects.
    press(&mut harness, none, Key::Delete);
    assert_eq!(segments_of(&harness, file), vec![seg(0.2, 1.41, "angry")]);
    let on_screen = segments_of(&harness, file);
    drop(harness);
    // Every edit is in alice's journal.
    let store = merit_studio::annotation::AnnotationStore::load(&project).unwrap();
    let on_disk: Vec<_> = store
        .label(file, "alice")
        .unwrap()
        .segments
        .iter()
        .map(|s| {
            let ms = |t: f64| (t * 1000.0).round() / 1000.0;
            (ms(s.start_s), ms(s.end_s), s.class.clone())
        })
        .collect();
    assert_eq!(on_disk, on_screen);
}

#[test]
fn a_segment_boundary_is_dragged_with_the_mouse_as_one_edit() {
    let dir = tempfile::tempdir().unwrap();
    let (
        project,
        Studio {
            mut harness,
            sink,
            _cache,
        },
    ) = alice_on_the_first_recording(dir.path());
    let file = "audio/angry_m1.wav";
    for (pull, key) in [(8_000, Key::Space), (16_000, Key::M), (0, Key::M)] {
        harness.key_press(key);
        harness.run_steps(2);
        sink.pull(pull);
    }
    harness.key_press(Key::Space);
    harness.run_steps(2);
    assert_eq!(
        segments_of(&harness, file),
        vec![(0.5, 1.5, "angry".to_owned())]
    );
    let duration_s = merit_studio::audio::probe(&project.join(file))
        .unwrap()
        .duration_secs()
        .unwrap();
    let lane = harness.get_by_label("Segments").rect();
    let x_of = |t: f64| lane.left() + (t / duration_s) as f32 * lane.width();
    let y = lane.center().y;
    // Drag the end boundary from 1.5 s to 1.0 s.
    harness.hover_at(egui::pos2(x_of(1.5), y));
    harness.run_steps(2);
    harness.drag_at(egui::pos2(x_of(1.5), y));
    harness.run_steps(2);
    for step in 1..=5 {
        let t = 1.5 - 0.1 * f64::from(step);
        harness.hover_at(egui::pos2(x_of(t), y));
        harness.run_steps(2);
    }
    harness.drop_at(egui::pos2(x_of(1.0), y));
    harness.run_steps(3);
    let moved = segments_of(&harness, file);
    assert_eq!(moved.len(), 1);
    let pixel_s = duration_s / f64::from(lane.width());
    assert!((moved[0].0 - 0.5).abs() < 1e-9, "{moved:?}");
    assert!((moved[0].1 - 1.0).abs() <= pixel_s + 0.001, "{moved:?}");
    // The whole drag is one undo step.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run_steps(2);
    assert_eq!(
        segments_of(&harness, file),
        vec![(0.5, 1.5, "angry".to_owned())]
    );
}

#[test]
fn every_lane_fits_at_1280_by_800_and_lanes_collapse() {
    let Studio {
        mut harness,
        _cache,
        ..
    } = studio(&demo_project());
    settle(&mut harness);
    let panes = [
        "Time ruler",
        "Original",
        "Segments",
        "Enhanced (Sparse MERIT)",
        "Pitch and intensity",
        "Emotion trajectory",
        "SER router",
        "SE router",
    ];
    for pane in panes {
        let rect = harness.get_by_label(pane).rect();
        assert!(
            rect.bottom() <= 800.0 && rect.height() >= 20.0,
            "{pane}: {rect:?}"
        );
    }
    // The transport bar is one row: Play and Loop on the same line.
    let (play, looping) = (
        harness.get_by_label("Play").rect(),
        harness.get_by_label("Loop").rect(),
    );
    assert!((play.center().y - looping.center().y).abs() < 1.0);
    // A lane collapses to a bar and comes back; the others grow into its room.
    let before = harness.get_by_label("Original").rect().height();
    harness.get_by_label("Hide SER router").click();
    harness.run();
    assert!(harness.query_by_label("SER router").is_none());
    assert!(harness.get_by_label("Original").rect().height() > before);
    harness.get_by_label("Show SER router").click();
    harness.run();
    harness.get_by_label("SER router");
    // Dragging the line under a lane gives it its height.
    let original = harness.get_by_label("Original").rect();
    let handle = egui::pos2(original.center().x, original.bottom() + 4.0);
    harness.hover_at(handle);
    harness.run_steps(2);
    harness.drag_at(handle);
    harness.run_steps(2);
    for step in 1..=4 {
        harness.hover_at(handle + egui::vec2(0.0, 10.0 * step as f32));
        harness.run_steps(2);
    }
    harness.drop_at(handle + egui::vec2(0.0, 40.0));
    harness.run_steps(2);
    let grown = harness.get_by_label("Original").rect().height();
    assert!(
        (grown - original.height() - 40.0).abs() <= 8.0,
        "{} → {grown}",
        original.height()
    );
    // The label strip folds its attribute rows away (the trace lane names its dimension too).
    let unfolded = harness.query_all_by_label_contains("Arousal").count();
    harness.get_by_label("Less").click();
    harness.run();
    let folded = harness.query_all_by_label_contains("Arousal").count();
    assert!(folded < unfolded, "{folded} of {unfolded}");
    harness.get_by_label("More").click();
    harness.run();
    assert_eq!(
        harness.query_all_by_label_contains("Arousal").count(),
        unfolded
    );
}

#[test]
fn reopening_starts_where_the_annotator_left_off_with_cached_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let project = common::copy_demo(dir.path());
    let cache = tempfile::tempdir().unwrap();
    let open = || {
        let app = StudioApp::open(
            &project,
            None,
            Playback::Sink(Box::new(FakeSink::default())),
        )
        .with_model(tiny_model())
        .with_cache_dir(Some(cache.path().to_path_buf()))
        .with_annotator("alice");
        let mut harness = Harness::builder()
            .with_size(egui::vec2(1280.0, 800.0))
            .build_ui_state(|ui, app: &mut StudioApp| app.studio_ui(ui), app);
        settle(&mut harness);
        harness
    };
    let mut harness = open();
    assert_eq!(
        harness.state().selected(),
        Some(0),
        "the first, with nothing labelled"
    );
    harness.get_by_label("audio/happy_m2.mp3").click();
    settle(&mut harness);
    harness.key_press(Key::Num3);
    harness.run();
    drop(harness);
    // Reopened: on alice's last recording, and the first recording's prediction (analysed last
    // time, not opened now) is in the browser from the cache's summaries.
    let harness = open();
    assert_eq!(harness.state().selected(), Some(2));
    harness.get_by_label_contains("6 recordings · 2 analysed");
    // Row 0 reads "analysed" without having been opened (row 2 reads "reviewed").
    assert_eq!(harness.query_all_by_label("analysed").count(), 1);
    assert_eq!(harness.query_all_by_label("reviewed").count(), 1);
}

#[test]
fn comments_are_threaded_resolved_and_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let (
        _,
        Studio {
            mut harness,
            _cache,
            ..
        },
    ) = alice_on_the_first_recording(dir.path());
    let file = "audio/angry_m1.wav";
    // The browser finds recordings by their comments: none has one yet.
    harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "Search")
        .click();
    harness.run();
    harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "Search")
        .type_text("comment:cough");
    harness.run();
    assert!(harness.query_by_label(file).is_none());
    harness.get_by_label("Comments (0)").click();
    harness.run();
    harness.get_by_label("No comments yet.");
    let field = egui::accesskit::Role::MultilineTextInput;
    harness.get_by_role(field).click();
    harness.run();
    harness
        .get_by_role(field)
        .type_text("is this laughter, or a cough?");
    harness.run();
    harness.get_by_label("Add comment").click();
    harness.run();
    let comments = |h: &Harness<'static, StudioApp>| {
        h.state()
            .annotations()
            .label(file, "alice")
            .map(|l| l.comments.clone())
            .unwrap_or_default()
    };
    let first = comments(&harness);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].text, "is this laughter, or a cough?");
    assert_eq!(first[0].segment, None);
    // A reply names the comment it answers and is drawn under it.
    harness.get_by_label("Reply").click();
    harness.run();
    harness.get_by_label_contains("Reply to alice's comment");
    harness.get_by_role(field).click();
    harness.run();
    harness.get_by_role(field).type_text("a cough");
    harness.get_by_label("Add comment").click();
    harness.run();
    let both = comments(&harness);
    assert_eq!(both.len(), 2);
    let reply = both.iter().find(|c| c.text == "a cough").unwrap();
    assert_eq!(
        reply.reply_to.as_ref().map(|r| (r.author.as_str(), r.id)),
        Some(("alice", first[0].id))
    );
    // Resolving is one edit of the author's comment.
    harness
        .query_all_by_label("Resolve")
        .next()
        .unwrap()
        .click();
    harness.run();
    assert!(comments(&harness).iter().any(|c| c.resolved));
    harness.get_by_label_contains("Comments (2)");
    // The search (unchanged) now finds this recording, and only it.
    harness.get_by_label(file);
    assert!(harness.query_by_label("audio/sad_f1.flac").is_none());
}

#[test]
fn the_window_analyses_the_signal_it_decoded_without_decoding_the_file_again() {
    let dir = tempfile::tempdir().unwrap();
    Wav::pcm16(16_000, 1, &sine(220.0, 16_000, 48_000, 1)).write(&dir.path().join("a.wav"));
    let wav = dir.path().join("b.wav");
    Wav::pcm16(16_000, 1, &sine(330.0, 16_000, 48_000, 1)).write(&wav);
    let Studio {
        mut harness,
        _cache,
        ..
    } = studio(dir.path());
    settle(&mut harness);
    harness.state_mut().select(1);
    while !harness.state().has_waveform() {
        harness.step();
    }
    // The analysis job (started as the waveform arrived) may read the file to hash it for the
    // cache, but decoding it now would fail.
    std::fs::write(&wav, b"RIFF").unwrap();
    settle(&mut harness);
    assert_eq!(harness.state().selected(), Some(1));
    harness.get_by_label("SER router");
    harness.get_by_label_contains("2 analysed");
}

#[test]
fn a_long_recording_shows_its_routers_and_trajectory_before_the_analysis_ends() {
    let dir = tempfile::tempdir().unwrap();
    // Five minutes: the tiny model needs seconds for it, so results so far arrive every half second.
    let speech: Vec<f32> = sine(180.0, 16_000, 16_000, 1)
        .iter()
        .zip(sine(3.0, 16_000, 16_000, 1))
        .map(|(s, envelope)| s * envelope.abs())
        .cycle()
        .take(300 * 16_000)
        .collect();
    Wav::pcm16(16_000, 1, &speech).write(&dir.path().join("long.wav"));
    let Studio {
        mut harness,
        _cache,
        ..
    } = studio(dir.path());
    harness.state_mut().select(0);
    let deadline = Instant::now() + Duration::from_secs(120);
    while harness
        .query_by_label_contains("done, the part in view first")
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "no partial analysis was shown (busy: {})",
            harness.state().is_busy()
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    // Routers and trajectory from the chunks done so far; the enhanced audio waits for the rest.
    harness.get_by_label("SER router");
    harness.get_by_label("Emotion trajectory");
    assert!(harness.query_by_label("Enhanced (Sparse MERIT)").is_none());
    // Not `settle`: the prosody of five minutes takes long in a debug build, and is not the point.
    while harness.query_by_label("Enhanced (Sparse MERIT)").is_none() {
        assert!(Instant::now() < deadline, "the analysis did not finish");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        harness
            .query_by_label_contains("done, the part in view first")
            .is_none()
    );
}

#[test]
fn the_header_and_model_window_say_when_the_cpu_runs_the_int8_variant() {
    let folder = tempfile::tempdir().unwrap();
    let model = folder.path().join("m.onnx");
    std::fs::copy(tiny_model(), &model).unwrap();
    let digest = merit_studio::model::session::model_digest(&model).unwrap();
    let variant = common::write_cpu_variant(&model, &digest);
    let cache = tempfile::tempdir().unwrap();
    let app = StudioApp::open(
        &demo_project(),
        None,
        Playback::Sink(Box::new(FakeSink::default())),
    )
    .with_model(model)
    .with_cache_dir(Some(cache.path().to_path_buf()));
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(|ui, app: &mut StudioApp| app.studio_ui(ui), app);
    settle(&mut harness);
    harness.get_by_label_contains("· CPU · int8");
    harness.key_press(Key::I);
    settle(&mut harness);
    harness.get_by_label(&format!(
        "{}: its int8 variant, which the CPU runs in its place",
        variant.display()
    ));
}
