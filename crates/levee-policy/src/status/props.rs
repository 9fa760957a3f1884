//! Properties of [`Component`] under arbitrary samples and thresholds:
//!
//! - outside maintenance, a change comes at least `min(raise_after,
//!   clear_after)` after the one before it (or after the component was
//!   created): the level never flaps, whatever the signals;
//! - entering and leaving maintenance change the level at the sample that
//!   says so, never later;
//! - `level()` and `since()` agree with the changes returned.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
struct Step {
    /// Time since the previous sample (0 included: two samples at once).
    dt_ms: u64,
    sample: Sample,
}

fn sample() -> impl Strategy<Value = Sample> {
    (
        (0u64..60, 0u64..60, 0u64..60, 0u64..60),
        (0u32..4, 0u32..4, 0u32..3, 0u32..3),
        prop::bool::weighted(0.05),
    )
        .prop_map(
            |((requests, errors, shed, slow), (endpoints, up, pools, down), maintenance)| {
                // Mostly consistent counts, as the gateway sends them, but
                // not always: the component must not trust them.
                let server_errors = errors.min(requests + 2);
                Sample {
                    requests,
                    server_errors,
                    shed: shed.min(requests.saturating_sub(server_errors) + 1),
                    slow: slow.min(requests),
                    endpoints,
                    endpoints_up: up.min(endpoints + 1),
                    pools,
                    pools_down: down.min(pools + 1),
                    maintenance,
                    down_pools: Vec::new(),
                }
            },
        )
}

fn step() -> impl Strategy<Value = Step> {
    (prop_oneof![Just(1000u64), 0u64..3000], sample())
        .prop_map(|(dt_ms, sample)| Step { dt_ms, sample })
}

fn thresholds() -> impl Strategy<Value = Thresholds> {
    (
        1u64..30,
        1u64..20,
        1u64..40,
        1u64..90,
        0.01f64..0.5,
        0.01f64..0.5,
        0.5f64..=1.0,
    )
        .prop_map(
            |(window, min_requests, raise, clear, degraded, partial, major)| Thresholds {
                window: Duration::from_secs(window),
                min_requests,
                degraded_share: degraded,
                partial_share: partial,
                major_share: major,
                raise_after: Duration::from_secs(raise),
                clear_after: Duration::from_secs(clear),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_level_holds_for_min_hold_and_maintenance_is_immediate(
        th in thresholds(),
        steps in prop::collection::vec(step(), 1..400),
    ) {
        prop_assert_eq!(th.validate(), Ok(()));
        let mut component = Component::new(Duration::ZERO);
        let mut now = Duration::ZERO;
        let mut last_change = Duration::ZERO;
        for Step { dt_ms, sample } in steps {
            now += Duration::from_millis(dt_ms);
            let maintenance = sample.maintenance;
            let before = component.level();
            let change = component.observe(now, sample, &th);
            if let Some(c) = &change {
                prop_assert_eq!(c.from, before);
                prop_assert_ne!(c.from, c.to);
                prop_assert_eq!(c.at, now);
                let planned = c.from == Level::UnderMaintenance || c.to == Level::UnderMaintenance;
                if !planned {
                    prop_assert!(
                        c.at - last_change >= th.min_hold(),
                        "{:?} only {:?} after the previous change", c, c.at - last_change
                    );
                }
                last_change = c.at;
            }
            // Maintenance is reported at the sample that starts or ends it.
            prop_assert_eq!(component.level() == Level::UnderMaintenance, maintenance);
            prop_assert_eq!(component.since(), last_change);
        }
    }

    #[test]
    fn a_pin_hides_the_live_level_and_removing_it_reports_the_live_level(
        th in thresholds(),
        steps in prop::collection::vec(step(), 1..200),
        pin in 0usize..5,
    ) {
        let pin = Level::ALL[pin];
        let mut component = Component::new(Duration::ZERO);
        let mut now = Duration::ZERO;
        component.pin(now, Some(pin));
        for Step { dt_ms, sample } in steps {
            now += Duration::from_millis(dt_ms);
            prop_assert_eq!(component.observe(now, sample, &th), None);
            prop_assert_eq!(component.level(), pin);
        }
        let live = component.live_level();
        let change = component.pin(now, None);
        prop_assert_eq!(component.level(), live);
        prop_assert_eq!(change.is_some(), live != pin);
    }
}
