"""VAE Explorer: `streamlit run streamlit_app.py`. Wiring only; the maths lives in explorer/.

`streamlit run` reads this file twice over. It finds `app = st.App(...)` below and serves that (uvicorn imports
this file as the module `streamlit_app`): Streamlit's server behind our cookie middleware, which gives each
browser its token as an HttpOnly cookie (explorer/ui/training/token_cookie.py). Then, for every page and rerun,
its runtime runs this file as the page script, named __main__ (AppTest does the same): that is main().
"""
import streamlit as st


def main() -> None:
    from explorer import jobs
    from explorer.jobs.heap import tune_heap
    from explorer.train.memory import memory_budget_mb
    from explorer.ui import nav, runner_handoff, sidebar
    from explorer.ui.state import edit_handoff, session_end, widget_memory
    from explorer.ui.training import browser_jobs, reaper_settings
    from explorer.ui.widgets import presenter_mode
    from explorer.ui.widgets.plain_text import plain

    tune_heap()  # a heap that gives back what closed sessions freed (explorer/jobs/heap.py)
    runner_handoff.install()  # a fragment's rerun waits for the last run's messages (the white page after Start)
    edit_handoff.install()  # an edit whose rerun a page switch overtook still reaches the next run

    st.set_page_config(page_title="VAE Explorer", page_icon="🧭", layout="wide",
                       initial_sidebar_state="collapsed" if presenter_mode.presenting() else "auto")

    try:  # a bad EXPLORER_MAX_TRAININGS, _TRAIN_THREADS, _MEMORY_BUDGET_MB, grace or heartbeat: refused now
        jobs.threads_per_training(jobs.max_trainings_from_env())
        memory_budget_mb(jobs.max_trainings_from_env())
        reaper_settings.grace_from_env()
        reaper_settings.heartbeat_from_env()
    except ValueError as e:
        st.error(f"This server's settings are wrong, so the app cannot run: {plain(e)}")
        st.stop()

    page = st.navigation(nav.pages())
    session_end.watch()  # what this session leaves (uploads, their models) is dropped when it ends
    widget_memory.keep_widget_values()  # a Train form or an Interpolate pick survives a visit to another page
    browser_jobs.attach()  # a reloaded page finds the training this browser started; an open page keeps it
    presenter_mode.apply()
    sidebar.render()
    page.run()


if __name__ == "__main__":  # the page script (Streamlit's runtime, AppTest)
    main()
else:  # imported by `streamlit run` to be served: the server, with the token cookie in front of Streamlit's routes
    from starlette.middleware import Middleware

    from explorer.ui.quiet_disconnect import QuietDisconnect
    from explorer.ui.still_skeletons import StillSkeletons
    from explorer.ui.training.token_cookie import TokenCookie
    from explorer.ui.warm_start import lifespan

    app = st.App(__file__, lifespan=lifespan, middleware=[Middleware(QuietDisconnect), Middleware(TokenCookie),
                                                          Middleware(StillSkeletons)])
