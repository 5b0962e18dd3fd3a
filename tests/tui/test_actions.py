"""R, P, A, D, L: each asks first (Cancel focused, y confirms, Esc cancels), then calls core."""

from __future__ import annotations

from textual.widgets import Button, Input, OptionList, RadioSet

from console.tui.dialogs.confirm import ConfirmationModal
from console.tui.dialogs.forms import DeployDialog, LockDialog, ReleasePicker
from console.tui.ops import OpResult
from console.tui.screens.overview import OverviewScreen
from tests.tui.conftest import SIZE, make_app, ready, select, wait_for


async def open_confirmation(pilot, *keys: str) -> ConfirmationModal:
    await pilot.press(*keys)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmationModal))
    return pilot.app.screen


async def test_rollback_offers_retained_releases_safest_first(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await select(pilot, "web/staging")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReleasePicker))
        options = pilot.app.screen.query_one(OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert prompts[0].startswith("v42") and "baseline" in prompts[0]
        assert prompts[1] == "v41           warm (green) · last live 2h ago · known-good"
        assert "cold: start from image" in prompts[2]


async def test_rollback_asks_for_confirmation_with_cancel_focused(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await select(pilot, "web/staging")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReleasePicker))
        modal = await open_confirmation(pilot, "down", "enter")
        assert modal.focused is modal.query_one("#cancel", Button)
        await pilot.press("enter")  # a stray Enter cancels
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, OverviewScreen))
        assert ops.calls == []


async def test_rollback_confirmation_names_the_change_and_the_headless_command(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await select(pilot, "web/staging")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReleasePicker))
        modal = await open_confirmation(pilot, "down", "enter")
        assert modal.summary == "web staging: v43 → v41, warm standby, swap only"
        assert modal.command == "shipdeck rollback web --env staging --to v41"


async def test_rollback_y_confirms_and_calls_core_rollback(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await select(pilot, "web/staging")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReleasePicker))
        await open_confirmation(pilot, "down", "enter")
        await pilot.press("y")
        await wait_for(pilot, lambda: ops.calls)
        assert ops.calls == [("rollback", ("web", "staging", "v41"))]


async def test_rollback_escape_cancels_without_calling_core(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await select(pilot, "web/staging")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReleasePicker))
        await open_confirmation(pilot, "enter")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, OverviewScreen))
        await pilot.pause(0.1)
        assert ops.calls == []


async def test_escape_in_the_release_picker_cancels(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await select(pilot, "web/staging")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReleasePicker))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, OverviewScreen))
        assert ops.calls == []


async def test_rollback_in_a_protected_environment_needs_the_service_name_typed(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await select(pilot, "web/production")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReleasePicker))
        modal = await open_confirmation(pilot, "down", "enter")
        assert modal.query_one("#confirm", Button).disabled
        await pilot.press("y", "enter")  # typing the wrong thing confirms nothing
        await pilot.pause(0.1)
        assert ops.calls == [] and pilot.app.screen is modal
        modal.query_one("#typed", Input).value = ""
        await pilot.press("w", "e", "b")
        assert not modal.query_one("#confirm", Button).disabled
        await pilot.press("enter")
        await wait_for(pilot, lambda: ops.calls)
        assert ops.calls == [("rollback", ("web", "production", "v41"))]


async def test_promote_confirms_then_requests_promotion(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await select(pilot, "web/production")
        modal = await open_confirmation(pilot, "P")
        assert "promote canary v43 now" in modal.summary and "step 4" in modal.summary
        assert modal.command == "shipdeck promote web --env production"
        await pilot.press(*"web", "enter")
        await wait_for(pilot, lambda: ops.calls)
        assert ops.calls == [("promote", ("web", "production"))]


async def test_abort_cancel_leaves_the_rollout_alone(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await select(pilot, "web/production")
        modal = await open_confirmation(pilot, "A")
        assert "traffic returns to v42" in modal.summary
        assert modal.command == "shipdeck abort web --env production"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, OverviewScreen))
        assert ops.calls == []


async def test_abort_confirmed_calls_abort(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await select(pilot, "web/production")
        await open_confirmation(pilot, "A")
        await pilot.press(*"web", "enter")
        await wait_for(pilot, lambda: ops.calls)
        assert ops.calls == [("abort", ("web", "production"))]


async def test_deploy_collects_image_and_strategy_then_starts_a_detached_rollout(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DeployDialog))
        assert app.screen.query_one(RadioSet).pressed_index == 0  # the service's strategy
        await pilot.press(*"v8", "enter")
        modal = await open_confirmation(pilot)
        assert modal.command == "shipdeck deploy api v8 --env production --strategy blue-green"
        await pilot.press("y")
        await wait_for(pilot, lambda: ops.rollouts)
        assert ops.calls == [("start_deploy", ("api", "production", "v8", "blue-green"))]
        assert app.running_here() == ["api/production: deploy v8 (blue-green)"]
        ops.rollouts[0].code = 0
        await wait_for(pilot, lambda: not app.running_here())


async def test_deploy_without_an_image_does_not_continue(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DeployDialog))
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, DeployDialog)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen))
        assert ops.calls == []


async def test_lock_asks_for_a_reason_then_confirms(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LockDialog))
        await pilot.press(*"incident", "enter")
        modal = await open_confirmation(pilot)
        assert modal.command == "shipdeck lock api --reason incident"
        await pilot.press("y")
        await wait_for(pilot, lambda: ops.calls)
        assert ops.calls == [("lock", ("api", "incident"))]


async def test_unlocking_someone_elses_lock_is_a_forced_takeover(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await select(pilot, "web/production")
        modal = await open_confirmation(pilot, "L")
        assert "Take over the lock from ann@laptop" in modal.summary
        assert modal.command == "shipdeck unlock web --force"
        await pilot.press("y")
        await wait_for(pilot, lambda: ops.calls)
        assert ops.calls == [("unlock", ("web", True))]


async def test_a_failed_operation_is_shown_as_an_error(data, ops):
    ops.result = OpResult(False, "web/staging: locked by bob since 02:00")
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LockDialog))
        await pilot.press("x", "enter")
        await open_confirmation(pilot)
        await pilot.press("y")
        await wait_for(pilot, lambda: any(n.severity == "error" for n in app._notifications))
        assert any("locked by bob" in n.message for n in app._notifications)


async def test_an_operation_that_raises_is_reported_not_fatal(data, ops):
    ops.error = RuntimeError("ssh exploded")
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        app = await ready(pilot)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LockDialog))
        await pilot.press("x", "enter")
        await open_confirmation(pilot)
        await pilot.press("y")
        await wait_for(pilot, lambda: any("ssh exploded" in n.message for n in app._notifications))
        assert app.is_running


async def test_rolling_back_to_the_baseline_during_a_canary_says_it_aborts_it(data, ops):
    async with make_app(data, ops).run_test(size=SIZE) as pilot:
        await select(pilot, "web/production")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReleasePicker))
        modal = await open_confirmation(pilot, "enter")
        assert modal.summary.startswith("web production: canary v43 → v42: abort the canary")
        assert modal.command == "shipdeck rollback web --env production --to v42"
