"""The class-balanced patch sampler of the LumenStone paper.

For every image and every class a probability map holds the share of that
class in a patch centred at each point. Each draw takes the class least
represented so far (in pixels drawn), an image in proportion to its content
of that class, a patch centre from that image's map, and then adds the
patch's pixels to the running counts. Rare minerals thus get patches as often
as common ones, while each patch stays a natural piece of a section.

Maps are kept on a coarse grid (one value per ``step`` x ``step`` pixels,
``step = patch // 8``) to bound memory; the centre is then placed uniformly
inside the chosen cell.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
from scipy import ndimage

from ..errors import GeocoreError
from .classes import IGNORE


def _pad_to_patch(image: np.ndarray, mask: np.ndarray, patch: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad an image (reflect) and its mask (ignore) so both sides are at least ``patch``."""
    h, w = mask.shape
    ph, pw = max(0, patch - h), max(0, patch - w)
    if not (ph or pw):
        return image, mask
    image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
    mask = np.pad(mask, ((0, ph), (0, pw)), constant_values=IGNORE)
    return image, mask


class BalancedPatchSampler:
    """Draws patch positions ``(image index, row, col)`` with balanced classes.

    Parameters
    ----------
    masks : list of ndarray (rows, cols) uint8
        Class codes; 255 is ignored. Every mask must be at least ``patch``
        pixels on each side (pad smaller ones first).
    codes : sequence of int
        Classes to balance.
    patch : int
        Patch edge in pixels.
    seed : int or sequence of int
        Seed of the draws (give ``[seed, worker]`` for data-loader workers).
    balanced : bool
        False draws plain random patches (uniform image, uniform position), the
        baseline the balance is compared with.

    Examples
    --------
    >>> m = np.zeros((64, 64), np.uint8); m[:8, :8] = 1
    >>> s = BalancedPatchSampler([m], [0, 1], patch=16, seed=0)
    >>> i, r, c = s.draw()
    >>> s.counts[1] > 0   # the first draw already took the rare class
    True
    """

    def __init__(self, masks: Sequence[np.ndarray], codes: Sequence[int], patch: int, seed=0,
                 balanced: bool = True) -> None:
        self.codes = [int(c) for c in codes]
        self.patch = int(patch)
        self.balanced = balanced
        self.rng = np.random.default_rng(seed)
        self.step = max(1, self.patch // 8)
        self.masks = list(masks)
        for m in self.masks:
            if min(m.shape) < self.patch:
                raise GeocoreError(f"an image of {m.shape[1]} x {m.shape[0]} px is smaller than the patch "
                                   f"({self.patch} px); choose a smaller patch size")
        self.counts = {c: 0 for c in self.codes}
        self.maps: dict[tuple[int, int], np.ndarray] = {}
        self.content = np.zeros((len(self.masks), len(self.codes)))
        if balanced:
            self._build_maps()

    def _build_maps(self) -> None:
        p, s = self.patch, self.step
        for i, m in enumerate(self.masks):
            h, w = m.shape
            gh, gw = h // s, w // s
            crop = m[: gh * s, : gw * s]
            for j, c in enumerate(self.codes):
                ind = (crop == c)
                total = int(ind.sum())
                if total == 0:
                    continue
                coarse = ind.reshape(gh, s, gw, s).mean(axis=(1, 3))
                share = ndimage.uniform_filter(coarse, size=max(1, p // s), mode="constant")
                # only centres whose patch fits inside the image
                half = p / 2
                rows = (np.arange(gh) + 0.5) * s
                cols = (np.arange(gw) + 0.5) * s
                ok = ((rows >= half) & (rows <= h - half))[:, None] & ((cols >= half) & (cols <= w - half))[None, :]
                share = np.where(ok, np.maximum(share, 0.0), 0.0)
                if share.sum() <= 0:
                    continue
                self.content[i, j] = total
                self.maps[(i, j)] = (share / share.sum()).astype(np.float64).ravel()
        present = self.content.sum(axis=0) > 0
        if not present.any() and all(min(m.shape) < p + s for m in self.masks):
            h, w = min(m.shape[0] for m in self.masks), min(m.shape[1] for m in self.masks)
            raise GeocoreError(f"patches of {p} px leave no room to move inside images of {w} x {h} px; the images "
                               f"must be at least {p + s} px (patch + patch/8) on each side: choose a smaller patch")
        if not present.any():
            raise GeocoreError("none of the chosen classes occurs in the masks; check the classes or the data")
        self.present = [j for j in range(len(self.codes)) if present[j]]
        self._total = self.content.sum(axis=0)

    def draw(self) -> tuple[int, int, int]:
        """One patch: ``(image index, top row, left column)``; updates the running counts."""
        p = self.patch
        if not self.balanced:
            i = int(self.rng.integers(len(self.masks)))
            h, w = self.masks[i].shape
            r, c = int(self.rng.integers(0, h - p + 1)), int(self.rng.integers(0, w - p + 1))
        else:
            # least drawn so far; on a tie the class rarest in the data
            j = min(self.present, key=lambda k: (self.counts[self.codes[k]], self._total[k], k))
            weights = self.content[:, j] / self.content[:, j].sum()
            i = int(self.rng.choice(len(self.masks), p=weights))
            h, w = self.masks[i].shape
            gw = w // self.step
            cell = int(self.rng.choice(len(self.maps[(i, j)]), p=self.maps[(i, j)]))
            cy = (cell // gw) * self.step + self.rng.uniform(0, self.step)
            cx = (cell % gw) * self.step + self.rng.uniform(0, self.step)
            r = int(np.clip(round(cy - p / 2), 0, h - p))
            c = int(np.clip(round(cx - p / 2), 0, w - p))
        patch = self.masks[i][r:r + p, c:c + p]
        bc = np.bincount(patch.ravel(), minlength=256)
        for code in self.codes:
            self.counts[code] += int(bc[code])
        return i, r, c


def balance_ratio(counts: dict) -> float:
    """Pixels of the rarest class over pixels of the commonest (classes drawn at all count)."""
    v = np.array([x for x in counts.values()], float)
    v = v[v > 0] if (v > 0).any() else v
    return float(v.min() / v.max()) if v.size and v.max() > 0 else 0.0


def compare_balance(masks: Sequence[np.ndarray], codes: Sequence[int], patch: int, n: int = 500,
                    seed: int = 0) -> dict:
    """Class balance of ``n`` balanced versus ``n`` plain random patches.

    Returns
    -------
    dict
        ``{"balanced": ratio, "random": ratio, "balanced_counts": {...},
        "random_counts": {...}}`` where ratio is rarest/commonest class
        pixels over the classes present in the data.
    """
    out = {}
    present = [c for c in codes if any((m == c).any() for m in masks)]
    for name, bal in (("balanced", True), ("random", False)):
        s = BalancedPatchSampler(masks, present, patch, seed=seed, balanced=bal)
        for _ in range(n):
            s.draw()
        counts = {c: s.counts[c] for c in present}
        out[name] = float(min(counts.values()) / max(max(counts.values()), 1))
        out[f"{name}_counts"] = counts
    return out


def dihedral(image: np.ndarray, mask: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """One of the 8 rotations/reflections (k in 0..7) of an (H, W, C) image and its mask."""
    if k >= 4:
        image, mask = image[:, ::-1], mask[:, ::-1]
    return np.rot90(image, k % 4), np.rot90(mask, k % 4)


def augment(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation/reflection, brightness and colour jitter of a patch (scale is done when cutting)."""
    image, mask = dihedral(image, mask, int(rng.integers(8)))
    img = image.astype(np.float32)
    img *= rng.uniform(0.85, 1.15)
    img *= rng.normal(1.0, 0.03, size=img.shape[2]).astype(np.float32)
    return np.clip(img, 0, 255), np.ascontiguousarray(mask)


class PatchDataset:
    """Patches for training: a torch ``IterableDataset`` built on :class:`BalancedPatchSampler`.

    Each worker of a DataLoader draws its own stream, seeded with
    ``[seed, epoch, worker id]``: runs are reproducible, and workers never
    repeat each other. Yields ``(x, y)``: ``x`` float32 (channels, patch,
    patch) scaled to 0..1, ``y`` int64 (patch, patch) holding class indices
    (positions in ``codes``) and 255 for ignored pixels.
    """

    def __init__(self, images, masks, codes, patch: int = 256, length: int = 1000, seed: int = 0,
                 balanced: bool = True, augment: bool = True, scale: tuple[float, float] = (0.9, 1.1)) -> None:
        import torch

        pairs = [_pad_to_patch(x, y, int(round(patch * scale[1])) + 1) for x, y in zip(images, masks)]
        self.images = [p[0] for p in pairs]
        self.masks = [p[1] for p in pairs]
        self.codes = [int(c) for c in codes]
        self.lut = np.full(256, IGNORE, np.int64)
        self.lut[self.codes] = np.arange(len(self.codes))
        self.patch, self.length, self.seed = int(patch), int(length), seed
        self.balanced, self.augment, self.scale = balanced, augment, scale
        self.epoch = 0
        self._torch = torch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def stream(self, worker: int = 0, workers: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The patches of one worker as numpy arrays."""
        import cv2

        rng = np.random.default_rng([self.seed, self.epoch, worker])
        cut = int(round(self.patch * (self.scale[1] if self.augment else 1.0)))
        sampler = BalancedPatchSampler(self.masks, self.codes, cut, seed=[self.seed, self.epoch, worker, 1],
                                       balanced=self.balanced)
        n = len(range(worker, self.length, workers))
        for _ in range(n):
            i, r, c = sampler.draw()
            s = rng.uniform(*self.scale) if self.augment else 1.0
            size = int(round(self.patch * s))
            r += (cut - size) // 2
            c += (cut - size) // 2
            img = self.images[i][r:r + size, c:c + size]
            msk = self.masks[i][r:r + size, c:c + size]
            if size != self.patch:
                img = cv2.resize(img, (self.patch, self.patch), interpolation=cv2.INTER_LINEAR)
                msk = cv2.resize(msk, (self.patch, self.patch), interpolation=cv2.INTER_NEAREST)
                if img.ndim == 2:
                    img = img[..., None]
            if self.augment:
                img, msk = augment(rng, img, msk)
            x = np.ascontiguousarray(np.moveaxis(np.asarray(img, np.float32) / 255.0, -1, 0))
            yield x, self.lut[msk]

    def __iter__(self):
        info = self._torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for x, y in self.stream(worker, workers):
            yield self._torch.from_numpy(x), self._torch.from_numpy(y)


def make_torch_dataset(*args, **kwargs):
    """A :class:`PatchDataset` that is also a ``torch.utils.data.IterableDataset``."""
    import torch

    class _Iterable(PatchDataset, torch.utils.data.IterableDataset):
        pass

    return _Iterable(*args, **kwargs)
