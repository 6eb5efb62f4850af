# Functions of the gait rules (workflow/rules/gait.smk), apart from the rules (snakemake --lint).


def gait_calibration_for(key):
    """The calibration dict of clip ``key``: config gait.calibration.default updated by
    gait.calibration.clips[<clip key>]; the height method gets participants_measures.
    """
    cal = config.get("gait", {}).get("calibration", {}) or {}
    c = dict(cal.get("default") or {"method": "height"})
    c.update((cal.get("clips") or {}).get(key, {}))
    if c.get("method", "height") == "height" and "height_cm" not in c and config.get("participants_measures"):
        c.setdefault("participants_measures", config["participants_measures"])
    return c


if "gait_calibration" not in globals():

    def gait_calibration(w):
        """The clip's calibration JSON (:func:`gait_calibration_for`)."""
        return json.dumps(gait_calibration_for(clip_key(w)), sort_keys=True)


def _measures_users():
    """participants_measures CSV -> the participants whose gait jobs read their Height from it."""
    from gaitprep.healthgait.naming import ClipId

    users = {}
    if "gait" not in MODALITIES:
        return users
    for key in CLIPS:
        if key in BAD_CLIPS:
            continue
        c = gait_calibration_for(key)
        if c.get("method", "height") == "height" and c.get("height_cm") is None and c.get("participants_measures"):
            users.setdefault(str(c["participants_measures"]), set()).add(
                c.get("participant") or ClipId.from_key(key).participant
            )
    return users


def check_gait_measures():
    """Before any job: every participant whose gait is height-calibrated has one valid row
    (ID once, Height a number in 50-250 cm) in the measures CSV; else CalibrationError
    naming the file, line and value (gaitprep.gait.calibration.read_measures).
    Returns {csv: {ID: row}} for the rule's params (an edited row reruns that participant)."""
    from gaitprep.errors import CalibrationError
    from gaitprep.gait.calibration import read_measures

    out = {}
    for csv, pids in _measures_users().items():
        rows = read_measures(csv, pids)
        missing = sorted(set(pids) - set(rows))
        if missing:
            raise CalibrationError(
                f"height calibration: participant(s) {', '.join(missing)} not in {csv} (needed for their gait clips)"
            )
        out[csv] = rows
    return out


GAIT_MEASURES = check_gait_measures()


def gait_measures_row(w):
    """The text of the measures row the clip's height calibration reads ("" when none): a
    param of gait_clip, so that editing a participant's Height reruns their gait jobs."""
    c = gait_calibration_for(clip_key(w))
    csv = c.get("participants_measures")
    if c.get("method", "height") != "height" or c.get("height_cm") is not None or not csv:
        return ""
    pid = c.get("participant") or w.pid
    rows = GAIT_MEASURES.get(str(csv))
    if rows is None or pid not in rows:  # not checked at DAG build (gait not among the modalities)
        from gaitprep.gait.calibration import read_measures

        rows = read_measures(csv, [pid])
    row = rows.get(pid)
    return f"{csv}:{row['line']}:{row['row']}" if row else ""


def gait_overrides(w):
    """The clip's own rows of the event-overrides TSV when configured and present (rule
    split_event_overrides in qc.smk), so that an edit reruns only the clips it changes.
    """
    return [clip_overrides_file(w)] if EVENT_OVERRIDES else []
