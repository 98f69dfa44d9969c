"""Registry of the book's data sets: where their files live, their checksums, downloading.

Environment variables:

* ``REPRO_DATA``: a folder holding ``<subdir>/<file>``; searched first, and downloads go there.
* ``REPRO_CACHE_HOME``: the download cache (default ``~/.cache/repro_lib``).
* ``REPRO_OFFLINE=1`` (any value but ``0``): do not download unless ``fetch(..., download=True)``.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import secrets
import shutil
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ..paths import repo_root

_CHUNK = 1 << 20


class DataError(RuntimeError):
    """A data set's file is missing or is not the registered file."""


class DataMissingError(DataError):
    """A file was found nowhere and could not be downloaded."""


class ChecksumError(DataError):
    """A file's sha256 differs from the registered one."""


@dataclass(frozen=True)
class FileSpec:
    """One file of a data set.

    ``sha256`` is of the file as stored, or, when ``sha256_of_content`` is true, of its
    gunzip-decompressed content (for copies recompressed by a packager). Where the source
    publishes only an md5 (Tiny-ImageNet, ImageNet), ``sha256`` is empty and ``md5`` holds it.
    ``name`` may hold
    sub-folders (``vae/run1.pt``). When ``archive_member`` is set, ``url`` is a zip archive
    and the file is that member of it (downloaded once per fetch, then extracted).
    """

    name: str
    sha256: str
    url: str
    sha256_of_content: bool = False
    archive_member: str = ""
    md5: str = ""

    def __post_init__(self):
        if bool(self.sha256) == bool(self.md5):
            raise ValueError(f"{self.name}: give exactly one of sha256 and md5")

    @property
    def algorithm(self) -> str:
        """The checksum this file is verified with: "sha256" or "md5"."""
        return "sha256" if self.sha256 else "md5"

    @property
    def checksum(self) -> str:
        return self.sha256 or self.md5


@dataclass(frozen=True)
class DatasetSpec:
    """A data set: its files, the subdirectory they sit in, extra folders to search."""

    name: str
    subdir: str
    files: tuple[FileSpec, ...]
    system_dirs: tuple[str, ...] = ()
    citation: str = ""
    # Non-empty where the files cannot be fetched by a plain GET (a login, a licence to accept):
    # how to obtain them. `fetch` then never downloads and says this instead.
    manual_download: str = ""


# The pytorch mirror; the original, http://yann.lecun.com/exdb/mnist/, is often down.
_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# UCI serves only a zipped .xls; this is Kaggle's CSV as committed to a public repository,
# pinned to the commit that holds the original (later commits there re-head the columns).
_CREDIT_URL = ("https://raw.githubusercontent.com/fju155447/uci/"
               "11fb7b341154178b42fd194e164b454533055008/UCI_Credit_Card.csv")

_MANIFESTS = Path(__file__).parent / "manifests"


def manifest(name: str) -> list[tuple[str, str]]:
    """(relative path, sha256) of each line of `manifests/<name>.sha256` (sha256sum format)."""
    rows = []
    for line in (_MANIFESTS / f"{name}.sha256").read_text().splitlines():
        if line.strip():
            sha, path = line.split(maxsplit=1)
            rows.append((path.strip(), sha))
    return rows


# Document 001's author's 42 trained models (../shared/data/README.md, 6), pinned to a commit.
_CHECKPOINTS_URL = ("https://raw.githubusercontent.com/harrya32/encoder_attribution_priors/"
                    "85588ae61020cf90af68b9b14f1b1d23a86062b1/experiments/results/mnist/")
# Document 004's authors' Cell2Fire-scored layouts and landscape (README, 5): members of a zip.
_FIREBREAKS_ZIP = ("https://github.com/lucasmurray97/fireEncoder/raw/"
                   "22cde3aeebc69911027ff2d01e7f8a6acdfb5f60/data/complete_random/homo_2.zip")

_CIFAR_CITATION = (
    "CIFAR-10 / CIFAR-100: A. Krizhevsky, Learning Multiple Layers of Features from Tiny Images, "
    "tech. report, University of Toronto, 2009, https://www.cs.toronto.edu/~kriz/cifar.html. "
    "No licence stated; cite the report."
)


_ILSVRC_TRAIN = FileSpec("ILSVRC2012_img_train.tar", "", "https://image-net.org/download-images.php",
                         md5="1d675b47d978889d74fa0da5fadfb00e")  # md5 as torchvision's ImageNet


def _imagenet_subset(name: str) -> DatasetSpec:
    """A class subset of ILSVRC-2012's training archive (ImageNet-10, ImageNet-Dogs)."""
    return DatasetSpec(
        name=name,
        subdir="imagenet",
        files=(_ILSVRC_TRAIN,),
        citation=("ImageNet (ILSVRC-2012): O. Russakovsky et al., ImageNet Large Scale Visual "
                  "Recognition Challenge, IJCV 115, 2015. ImageNet-10 and ImageNet-Dogs: J. Chang "
                  "et al., Deep Adaptive Image Clustering, ICCV 2017."),
        manual_download=("ILSVRC-2012 is distributed only to registered users: sign in at "
                         "https://image-net.org/download-images.php, accept the terms, download "
                         "ILSVRC2012_img_train.tar (138 GB)"),
    )

REGISTRY: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        subdir="mnist",
        files=tuple(
            FileSpec(name, sha, _MNIST_URL + name)
            for name, sha in [
                ("train-images-idx3-ubyte.gz",
                 "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
                ("train-labels-idx1-ubyte.gz",
                 "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
                ("t10k-images-idx3-ubyte.gz",
                 "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
                ("t10k-labels-idx1-ubyte.gz",
                 "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
            ]
        ),
        citation=(
            "MNIST: Y. LeCun, C. Cortes, C. J. C. Burges, http://yann.lecun.com/exdb/mnist/. "
            "Cite LeCun et al., Gradient-based learning applied to document recognition, "
            "Proc. IEEE 86(11), 1998. No licence stated; redistributors use CC BY-SA 3.0."
        ),
    ),
    # Checksums of the decompressed content: Debian's package `dataset-fashion-mnist`
    # recompresses the upstream .gz files, so their bytes differ from upstream.
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        subdir="fashion-mnist",
        files=tuple(
            FileSpec(name, sha, _FASHION_URL + name, sha256_of_content=True)
            for name, sha in [
                ("train-images-idx3-ubyte.gz",
                 "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
                ("train-labels-idx1-ubyte.gz",
                 "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
                ("t10k-images-idx3-ubyte.gz",
                 "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
                ("t10k-labels-idx1-ubyte.gz",
                 "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
            ]
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        citation=(
            "Fashion-MNIST: H. Xiao, K. Rasul, R. Vollgraf, Fashion-MNIST: a Novel Image Dataset "
            "for Benchmarking Machine Learning Algorithms, arXiv:1708.07747, 2017. MIT licence."
        ),
    ),
    # 2,000 aligned CelebA faces at 64x64 with the 40 attributes (../shared/data/README.md, 4a).
    # No public mirror holds this subset: the address is CelebA's page, where the full set is.
    "celeba_subset": DatasetSpec(
        name="celeba_subset",
        subdir="faces",
        files=(FileSpec("celeba_subset.npz",
                        "537151d253a7ff3b41839df9c336af85cb562453f90b96c764ad585c5489ca61",
                        "http://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"),),
        citation=(
            "CelebA: Z. Liu, P. Luo, X. Wang, X. Tang, Deep Learning Face Attributes in the Wild, "
            "ICCV 2015. Non-commercial research use only (CelebA agreement)."
        ),
    ),
    # 30,000 clients x (ID, 23 features, default.payment.next.month); ../shared/data/README.md, 2.
    "credit_default": DatasetSpec(
        name="credit_default",
        subdir="credit_default",
        files=(FileSpec("UCI_Credit_Card.csv",
                        "a0f0ab49d6326671d6cd83be5c88dcf18007025fe9a53ecd699119c871176ca1",
                        _CREDIT_URL),),
        citation=(
            "Default of credit card clients (Taiwan, 2005): I.-C. Yeh and C.-H. Lien, The "
            "comparisons of data mining techniques for the predictive accuracy of probability of "
            "default of credit card clients, Expert Systems with Applications 36(2), 2009; UCI "
            "Machine Learning Repository, doi:10.24432/C55S3H (an .xls in a zip), CC BY 4.0. The "
            "file used here is Kaggle's CSV of it, UCI_Credit_Card.csv from "
            "https://www.kaggle.com/datasets/uciml/default-of-credit-card-clients-dataset "
            "(not the .xls converted by hand: its header differs)."
        ),
    ),
    # CIFAR-10 subset (../shared/data/README.md, 3): training images 0-4999 byte-exact, test
    # images 0-999 byte-exact, all 10,000 test images as lossy JPEG copies. No public mirror
    # holds this subset: the address is CIFAR's page, where the full set is (`cifar10` below).
    "cifar10_subset": DatasetSpec(
        name="cifar10_subset",
        subdir="cifar10",
        files=(FileSpec("cifar10_subset.npz",
                        "f384ff56bbd2e58f15c3936545c60742a54cd90b92937ec562ff806927c7e3e4",
                        "https://www.cs.toronto.edu/~kriz/cifar.html"),),
        citation=_CIFAR_CITATION,
    ),
    # The full sets in CIFAR's binary format (no pickles); sha256 as in tensorflow/datasets'
    # url_checksums/cifar10.txt and cifar100.txt (170,052,171 and 168,513,733 bytes).
    "cifar10": DatasetSpec(
        name="cifar10",
        subdir="cifar10",
        files=(FileSpec("cifar-10-binary.tar.gz",
                        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
                        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"),),
        citation=_CIFAR_CITATION,
    ),
    "cifar100": DatasetSpec(
        name="cifar100",
        subdir="cifar100",
        files=(FileSpec("cifar-100-binary.tar.gz",
                        "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec",
                        "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"),),
        citation=_CIFAR_CITATION,
    ),
    # Tiny-ImageNet (200 classes, 64x64): the CS231n address; only an md5 is published
    # (torchvision-style loaders and 248,100,043 bytes agree on it).
    "tiny_imagenet": DatasetSpec(
        name="tiny_imagenet",
        subdir="tiny_imagenet",
        files=(FileSpec("tiny-imagenet-200.zip", "", "http://cs231n.stanford.edu/tiny-imagenet-200.zip",
                        md5="90528d7ca1a48142e341f4ef8d21d0de"),),
        citation=("Tiny ImageNet: Y. Le and X. Yang, Tiny ImageNet Visual Recognition Challenge, "
                  "CS231n, Stanford, 2015, http://cs231n.stanford.edu/tiny-imagenet-200.zip."),
    ),
    # ImageNet-10 and ImageNet-Dogs are class subsets of the ILSVRC-2012 training archive
    # (`data/imagenet.py` lists their WordNet ids); the archive needs an image-net.org account.
    "imagenet10": _imagenet_subset("imagenet10"),
    "imagenet_dogs": _imagenet_subset("imagenet_dogs"),
    "attribution_priors_checkpoints": DatasetSpec(
        name="attribution_priors_checkpoints",
        subdir="attribution_priors_checkpoints",
        files=tuple(FileSpec(path, sha, _CHECKPOINTS_URL + path)
                    for path, sha in manifest("attribution_priors_checkpoints")),
        citation=(
            "The trained VAEs of document 001 (Amad, Incorporating Feature Attribution Priors into "
            "Unsupervised Models), github.com/harrya32/encoder_attribution_priors at commit 85588ae, "
            "experiments/results/mnist/; MIT licence (setup.cfg, inherited from lfxai)."
        ),
    ),
    "firebreaks_cell2fire": DatasetSpec(
        name="firebreaks_cell2fire",
        subdir="firebreaks",
        files=tuple(FileSpec(path, sha, _FIREBREAKS_ZIP, archive_member=f"homo_2/{path}")
                    for path, sha in manifest("firebreaks_cell2fire")),
        citation=(
            "Document 004's data set (Gimó, Murray, Redon): 50,000 20x20 firebreak layouts scored by "
            "Cell2Fire and the Sub20x20 landscape, github.com/lucasmurray97/fireEncoder at commit "
            "22cde3a, data/complete_random/homo_2.zip (folder homo_2/); MIT licence."
        ),
    ),
}

# sha256 per (resolved path, size, mtime_ns, of content), so repeated fetches skip hashing.
_HASHES: dict[tuple[str, int, int, bool, str], str] = {}


def get_spec(name: str) -> DatasetSpec:
    """The registered spec of data set ``name``; ValueError listing the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown data set {name!r}; known: {', '.join(sorted(REGISTRY))}"
        ) from None


def cache_root() -> Path:
    """The download cache: ``$REPRO_CACHE_HOME``, else ``~/.cache/repro_lib``."""
    env = os.environ.get("REPRO_CACHE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "repro_lib"


def search_dirs(spec: DatasetSpec) -> list[Path]:
    """Folders searched for ``spec``'s files, in order: ``$REPRO_DATA/<subdir>`` (if set),
    ``<repository>/data/<subdir>`` (``./data`` of the working directory outside a checkout),
    the cache, then ``spec.system_dirs``."""
    dirs = []
    if os.environ.get("REPRO_DATA"):
        dirs.append(Path(os.environ["REPRO_DATA"]).expanduser() / spec.subdir)
    dirs.append(_local_data_root() / spec.subdir)
    dirs.append(cache_root() / spec.subdir)
    dirs.extend(Path(d) for d in spec.system_dirs)
    return dirs


def _local_data_root() -> Path:
    try:
        return repo_root() / "data"
    except RuntimeError:  # used outside a checkout
        return Path.cwd() / "data"


def download_dir(spec: DatasetSpec) -> Path:
    """Where missing files are downloaded: ``$REPRO_DATA/<subdir>`` if set, else the cache."""
    env = os.environ.get("REPRO_DATA")
    root = Path(env).expanduser() if env else cache_root()
    return root / spec.subdir


def _compute_digest(path: Path, of_content: bool, algorithm: str = "sha256") -> str:
    """`algorithm` hex digest of ``path`` (or of its gunzipped content), read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    opener = gzip.open if of_content else open
    with opener(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _digest_or_reason(path: Path, of_content: bool, algorithm: str = "sha256") -> str:
    """Like :func:`_compute_digest`, but a gzip that cannot be read gives a reason string."""
    try:
        return _compute_digest(path, of_content, algorithm)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        return f"unreadable: not a valid gzip file ({exc})"


def _hash_key(path: Path, fspec: FileSpec) -> tuple[str, int, int, bool, str]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns, fspec.sha256_of_content, fspec.algorithm


def _verify(path: Path, fspec: FileSpec) -> None:
    """Check ``path`` against ``fspec.checksum`` (cached per path, size and mtime)."""
    key = _hash_key(path, fspec)
    actual = _HASHES.get(key)
    if actual is None:
        actual = _digest_or_reason(path, fspec.sha256_of_content, fspec.algorithm)
        _HASHES[key] = actual
    if actual != fspec.checksum:
        what = "decompressed content" if fspec.sha256_of_content else "file"
        raise ChecksumError(
            f"{path}: {fspec.algorithm} of the {what} does not match the registry.\n"
            f"  expected: {fspec.checksum}\n"
            f"  actual:   {actual}\n"
            f"Delete this file (it is then downloaded again) or replace it with the original "
            f"from {fspec.url}."
        )


def _partial_beside(final: Path) -> Path:
    # Not tempfile.mkstemp: its 0600 mode would survive the rename; "xb" honours the umask.
    return final.parent / f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.part"


def _stream(url: str, out, desc: str) -> None:
    """Copy `url`'s bytes into the open binary file `out`, with a progress bar."""
    with urllib.request.urlopen(url, timeout=60) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=desc) as bar:
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
    out.flush()
    os.fsync(out.fileno())


def _archive(url: str, archives: dict[str, Path]) -> Path:
    """The zip at `url`, downloaded once into the download cache (kept in `archives`)."""
    if url not in archives:
        folder = cache_root() / "archives"
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / (hashlib.sha256(url.encode()).hexdigest()[:16] + ".zip")
        if not final.exists():
            tmp = _partial_beside(final)
            try:
                with open(tmp, "xb") as out:
                    _stream(url, out, final.name)
                os.replace(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        archives[url] = final
    return archives[url]


def _download(fspec: FileSpec, target_dir: Path, archives: dict[str, Path] | None = None) -> Path:
    """Download ``fspec`` into ``target_dir`` atomically and return its final path.

    The bytes go to a temporary file beside the final one, are verified, then renamed; on any
    failure the temporary file is removed and nothing appears under the final name. A file
    that is a zip member is extracted from the archive, downloaded once (`archives`).
    Network errors propagate as OSError; a wrong checksum raises ChecksumError.
    """
    final = target_dir / fspec.name
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial_beside(final)
    out = open(tmp, "xb")
    try:
        with out:
            if fspec.archive_member:
                try:
                    with zipfile.ZipFile(_archive(fspec.url, archives if archives is not None else {})) as zf, \
                            zf.open(fspec.archive_member) as member:
                        shutil.copyfileobj(member, out, _CHUNK)
                except (KeyError, zipfile.BadZipFile) as err:
                    raise ChecksumError(f"{fspec.url} does not hold {fspec.archive_member} ({err}); "
                                        f"nothing was saved as {final}") from err
                out.flush()
                os.fsync(out.fileno())
            else:
                _stream(fspec.url, out, fspec.name)
        actual = _digest_or_reason(tmp, fspec.sha256_of_content, fspec.algorithm)
        if actual != fspec.checksum:
            raise ChecksumError(
                f"download of {fspec.url} does not match the registry; nothing was saved "
                f"as {final}.\n"
                f"  expected ({fspec.algorithm}): {fspec.checksum}\n"
                f"  actual:   {actual}\n"
                f"Try again later, or put a verified copy of {fspec.name} in {target_dir}."
            )
        os.replace(tmp, final)
        _HASHES[_hash_key(final, fspec)] = actual
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def _missing_message(spec: DatasetSpec, missing: list[FileSpec], dirs: list[Path],
                     why: str) -> str:
    names = ", ".join(f.name for f in missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    lines = [f"data set {spec.name!r}: file(s) not found: {names}"]
    lines.append("Searched:")
    lines += [f"  {d}" for d in dirs]
    lines.append(f"Not downloaded: {why}")
    urls = list(dict.fromkeys(f.url for f in missing))  # one zip serves many files
    what = "each file" if len(urls) == len(missing) else "these archives, extract the files"
    lines.append(f"To fix, download {what} and put them in one of the folders above:")
    lines += [f"  {url}" for url in urls[:20]] + ([f"  ... and {len(urls) - 20} more"] if len(urls) > 20 else [])
    lines.append(
        f"or set REPRO_DATA to a folder holding {spec.subdir}/{missing[0].name} "
        f"(and the other files)."
    )
    if spec.citation:
        lines.append(f"About the data set: {spec.citation}")
    return "\n".join(lines)


def _is_file(path: Path) -> bool:
    """Whether `path` is a file; a folder that cannot be read is an error naming it."""
    try:
        return path.is_file()
    except PermissionError as err:
        raise DataError(f"{path.parent} cannot be read ({err.strerror}); fix its permissions or "
                        "point REPRO_DATA elsewhere") from err


def _download_allowed(download: bool | None) -> bool:
    if download is not None:
        return download
    return os.environ.get("REPRO_OFFLINE", "") in ("", "0")


def fetch(name: str, download: bool | None = None) -> dict[str, Path]:
    """Locate and verify every file of data set ``name``; returns {file name: path}.

    A missing file is downloaded when ``download`` is true; ``None`` means "unless
    ``REPRO_OFFLINE=1``". Raises ChecksumError for a file that differs from the registry,
    DataMissingError for a file found nowhere and not downloaded.
    """
    spec = get_spec(name)
    dirs = search_dirs(spec)
    found: dict[str, Path] = {}
    missing: list[FileSpec] = []
    for fspec in spec.files:
        path = next((d / fspec.name for d in dirs if _is_file(d / fspec.name)), None)
        if path is None:
            missing.append(fspec)
        else:
            _verify(path, fspec)
            found[fspec.name] = path
    if missing and spec.manual_download:
        raise DataMissingError(_missing_message(spec, missing, dirs, spec.manual_download))
    if missing and not _download_allowed(download):
        raise DataMissingError(
            _missing_message(spec, missing, dirs, "downloading is off (REPRO_OFFLINE=1 or "
                             "download=False)")
        )
    target = download_dir(spec)
    archives: dict[str, Path] = {}
    for i, fspec in enumerate(missing):
        try:
            found[fspec.name] = _download(fspec, target, archives)
        except OSError as exc:
            raise DataMissingError(
                _missing_message(spec, missing[i:], dirs, f"download of {fspec.url} into "
                                 f"{target} failed: {exc}")
            ) from exc
    return {f.name: found[f.name] for f in spec.files}


def fingerprint(name: str) -> str:
    """A 16-hex-digit digest of data set ``name`` and its files' registered checksums."""
    spec = get_spec(name)
    payload = [spec.name] + [[f.name, f.sha256, f.sha256_of_content] + ([f.md5] if f.md5 else [])
                             for f in spec.files]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]
