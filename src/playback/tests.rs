use super::*;

fn tracks() -> Tracks {
    Tracks {
        original: (0..16_000).map(|i| i as f32).collect(),
        enhanced: Some((0..16_000).map(|i| -(i as f32)).collect()),
        rnnoise: Some(vec![7.0; 16_000].into()),
    }
}

#[test]
fn paused_sources_are_silent_and_do_not_move() {
    let transport = Arc::new(Transport::default());
    let mut source = PlaybackSource::new(tracks(), transport.clone());
    assert_eq!(source.next(), Some(0.0));
    assert_eq!(transport.position_samples(), 0);
}

#[test]
fn a_b_switch_keeps_the_position_and_fades() {
    let transport = Arc::new(Transport::default());
    let mut source = PlaybackSource::new(tracks(), transport.clone());
    transport.set_playing(true);
    let before: Vec<f32> = source.by_ref().take(100).collect();
    assert_eq!(before[99], 99.0);
    transport.toggle_track();
    let after: Vec<f32> = source.by_ref().take(400).collect();
    assert_eq!(transport.position_samples(), 500);
    // Sample 100 is still mostly the original; by sample 499 the enhanced track alone.
    assert!(after[0] > 0.0);
    assert_eq!(after[399], -499.0);
}

#[test]
fn rnnoise_is_a_third_track_and_a_missing_track_plays_the_original() {
    let transport = Arc::new(Transport::default());
    let mut source = PlaybackSource::new(tracks(), transport.clone());
    transport.set_playing(true);
    transport.toggle_rnnoise();
    let played: Vec<f32> = source.by_ref().take(400).collect();
    assert_eq!(played[399], 7.0);
    transport.toggle_track();
    assert_eq!(transport.track(), Track::Original);
    let without = Tracks {
        rnnoise: None,
        ..tracks()
    };
    let mut source = PlaybackSource::new(without, transport.clone());
    transport.set_track(Track::Rnnoise);
    transport.set_playing(true);
    assert_eq!(source.next(), Some(0.0));
    assert_eq!(source.next(), Some(1.0));
}

#[test]
fn loops_wrap_and_the_end_stops() {
    let transport = Arc::new(Transport::default());
    let mut source = PlaybackSource::new(tracks(), transport.clone());
    transport.set_loop_s(Some((0.5, 0.5 + 10.0 / 16_000.0)));
    transport.seek_samples(8_000);
    transport.set_playing(true);
    let played: Vec<f32> = source.by_ref().take(25).collect();
    assert_eq!(played[9], 8_009.0);
    assert_eq!(played[10], 8_000.0);
    transport.set_loop_s(None);
    transport.seek_samples(15_998);
    let tail: Vec<f32> = source.by_ref().take(3).collect();
    assert_eq!(tail[..2], [15_998.0, 15_999.0]);
    assert!(!transport.is_playing());
}

#[test]
fn speed_steps_through_the_offered_speeds() {
    let transport = Arc::new(Transport::default());
    let mut source = PlaybackSource::new(tracks(), transport.clone());
    transport.step_speed(false);
    assert!((transport.speed() - 0.75).abs() < 1e-6);
    transport.set_speed(0.5);
    transport.set_playing(true);
    let played: Vec<f32> = source.by_ref().take(4).collect();
    assert_eq!(played, vec![0.0, 0.5, 1.0, 1.5]);
    transport.set_speed(9.0);
    assert!((transport.speed() - 2.0).abs() < 1e-6);
}

#[test]
fn loading_new_tracks_ends_the_old_source() {
    let transport = Arc::new(Transport::default());
    let mut old = PlaybackSource::new(tracks(), transport.clone());
    let _new = PlaybackSource::new(tracks(), transport);
    assert_eq!(old.next(), None);
}

#[test]
fn a_stop_point_pauses_exactly_there_once() {
    let transport = Arc::new(Transport::default());
    let mut source = PlaybackSource::new(tracks(), transport.clone());
    transport.seek_samples(1_000);
    transport.set_stop_at_s(Some(1_010.0 / 16_000.0));
    transport.set_playing(true);
    let played: Vec<f32> = source.by_ref().take(15).collect();
    assert_eq!(played[9], 1_009.0);
    assert_eq!(played[10..], [0.0; 5], "silent once paused");
    assert_eq!(transport.position_samples(), 1_010);
    assert!(!transport.is_playing());
    // Cleared once reached: playing again goes on past it.
    assert_eq!(transport.stop_at_samples(), None);
    transport.set_playing(true);
    let on: Vec<f32> = source.by_ref().take(3).collect();
    assert_eq!(on, [1_010.0, 1_011.0, 1_012.0]);
}
