"""QC figure of one clip: foot-minus-pelvis trajectories with events and passes."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_clip(prep, events: list[dict], out: str | Path, title: str = "", method: str = "zeni", note: str = "") -> None:
    """Write a PNG: per foot, the heel (HS signal) and toe (TO signal) position relative to
    the pelvis (px, along the walking direction of each pass, forward positive) against
    the source frame index; HS marked with triangles, TO with circles (ankle-distance
    method: peaks on the top panel); passes shaded. Bottom: pelvis x (px).

    ``note``: a line printed in red under the title (e.g. the values the quality record
    refused, docs/gait_quality.md).

    Uses matplotlib's Agg backend (no display needed). Writes atomically.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    f = prep.series.frames
    fig, axes = plt.subplots(3, 1, figsize=(11, 7.5), sharex=True)
    direction = np.full(len(f), np.nan)
    for p in prep.passes:
        direction[p.start : p.stop] = p.direction
    colors = {"l": "tab:blue", "r": "tab:red"}
    for ax, side in zip(axes[:2], ("l", "r")):
        for kind, ls in (("hs", "-"), ("to", "--")):
            y = direction * (prep.foot_points[side][kind][:, 0] - prep.pelvis[:, 0])
            ax.plot(f, y, ls, color=colors[side], lw=1.2, label=f"{prep.used[side][kind]} - pelvis")
        foot = "left" if side == "l" else "right"
        for e in events:
            if e["foot"] != foot:
                continue
            i = e["frame"] - f[0]
            k = "hs" if e["event"] == "HS" else "to"
            yy = direction * (prep.foot_points[side][k][:, 0] - prep.pelvis[:, 0])
            yv = np.interp(i, np.arange(len(f)), np.nan_to_num(yy))
            ax.plot(e["frame"], yv, "v" if e["event"] == "HS" else "o", color="k" if not e.get("edited") else "tab:orange", ms=6)
        ax.set_ylabel(f"{foot} foot - pelvis (px)")
        ax.legend(loc="upper right", fontsize=8)
    axes[2].plot(f, prep.pelvis[:, 0], color="k", lw=1)
    axes[2].set_ylabel("pelvis x (px)")
    axes[2].set_xlabel("frame")
    for ax in axes:
        for p in prep.passes:
            ax.axvspan(f[p.start], f[p.stop - 1], color="tab:green" if p.direction > 0 else "tab:purple", alpha=0.12)
    fig.suptitle(f"{title}  [{method}]", fontsize=13, fontweight="bold")
    axes[0].set_title("HS: triangles, TO: circles (orange: edited by hand); shaded: passes (green L->R, purple R->L)", fontsize=10)
    if note:
        fig.text(0.5, 0.005, note, ha="center", va="bottom", color="tab:red", fontsize=9, wrap=True)
    fig.tight_layout(rect=(0, 0.03 if note else 0, 1, 1))
    tmp = out.with_name(out.name + ".tmp-qc.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    tmp.replace(out)
