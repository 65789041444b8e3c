"""``mirage-bayes plan``: how many items a test set needs to see a first success, or to pin an
accuracy down to a given interval width, from a saved fit or from given error rates."""

from mirage_bayes import lazy

__getattr__, __dir__ = lazy.exports(
    globals(),
    {
        name: "mirage_bayes.plan.design"
        for name in ("plan_from_epsilon", "plan_from_fit", "format_plan", "plot_plan")
    },
)
