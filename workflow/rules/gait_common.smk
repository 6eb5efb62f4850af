# Functions of the gait rules (workflow/rules/gait.smk), apart from the rules (snakemake --lint).


if "gait_calibration" not in globals():

    def gait_calibration(w):
        """The clip's calibration JSON: config gait.calibration.default updated by
        gait.calibration.clips[<clip key>]; the height method gets participants_measures.
        """
        cal = config.get("gait", {}).get("calibration", {}) or {}
        c = dict(cal.get("default") or {"method": "height"})
        c.update((cal.get("clips") or {}).get(clip_key(w), {}))
        if c.get("method", "height") == "height" and "height_cm" not in c and config.get("participants_measures"):
            c.setdefault("participants_measures", config["participants_measures"])
        return json.dumps(c, sort_keys=True)


def gait_overrides(w):
    """The clip's own rows of the event-overrides TSV when configured and present (rule
    split_event_overrides in qc.smk), so that an edit reruns only the clips it changes.
    """
    return [clip_overrides_file(w)] if EVENT_OVERRIDES else []
