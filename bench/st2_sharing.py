"""How st2's behaviour part and reviews part share the encoder: a small measurement.

Frozen packaged MiniLM, mean pooling, logistic regression on the pooled vectors (no lexical
term: this measures what the encoder sees), sessions with reviews only, split by user.
Options: st1 at 256 tokens (the former default), A one st2 text at 512 (behaviour kept,
reviews cut at the end: udf.tokens.SessionTokenizer.fit), B a BERT sentence pair
(behaviour, reviews) with token types 0/1 at 512, C two encodings (behaviour; reviews with
the same token room as A) pooled and concatenated. TF-IDF + LR on each text for reference.

    python bench/st2_sharing.py ST1_WAREHOUSE ST2_WAREHOUSE [N]   (docs/SESSION_TEXT.md)

N: a seeded sample of that many sessions (every one when absent).
"""

import hashlib
import sys
import time

import duckdb
import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.preprocessing import StandardScaler

from udf.base_models import packaged_model_dir
from udf.model import load_encoder, mean_pool
from udf.tokens import SessionTokenizer, _head_tail

torch.set_num_threads(2)


def read(db):
    con = duckdb.connect(db, read_only=True)
    rows = con.execute("select session_id, user_id, anomaly_family is not null, session_text "
                       "from training_sessions where n_reviews > 0 order by session_id").fetchall()
    con.close()
    return rows


def encode(encoder, batches):
    """batches of (input_ids, types) lists -> pooled vectors, one text at a time per width."""
    out = []
    for ids, types in batches:
        x = torch.tensor([ids])
        with torch.inference_mode():
            h = encoder(input_ids=x, attention_mask=torch.ones_like(x),
                        token_type_ids=torch.tensor([types])).last_hidden_state
        out.append(mean_pool(h, torch.ones_like(x)).numpy()[0])
    return np.stack(out)


def main(st1_db, st2_db, n=None):
    base = packaged_model_dir()
    encoder = load_encoder(base).eval()
    t256, t512 = SessionTokenizer(base, 256), SessionTokenizer(base, 512)
    st1, st2 = read(st1_db), read(st2_db)
    assert [r[0] for r in st1] == [r[0] for r in st2]
    if n is not None and int(n) < len(st2):
        keep = sorted(np.random.default_rng(0).choice(len(st2), int(n), replace=False))
        st1, st2 = [st1[i] for i in keep], [st2[i] for i in keep]
    users = [r[1] for r in st2]
    y = np.array([int(r[2]) for r in st2])
    test = np.array([hashlib.md5(u.encode()).digest()[0] < 102 for u in users])  # ~40%
    cls, sep = t512.cls_id, t512.sep_id
    inputs = {"st1 @256": [(t256.fit(i), None) for i in t256.ids([r[3] for r in st1])]}
    ids2 = t512.ids([r[3] for r in st2])
    inputs["A st2 one text @512"] = [(t512.fit(i), None) for i in ids2]
    pair, two_b, two_r = [], [], []
    for i in ids2:
        k = t512._reviews_start(i)
        b, r = (i[:k], i[k + 2:]) if k is not None else (i, [])
        b = _head_tail(b, 254)
        r = r[: 512 - 3 - len(b)]
        pair.append(([cls, *b, sep, *r, sep], [0] * (len(b) + 2) + [1] * (len(r) + 1)))
        two_b.append(([cls, *b, sep], None))
        two_r.append(([cls, *r, sep], None))
    inputs["B pair @512"] = pair
    vectors, seconds, tokens = {}, {}, {}
    for name, batch in [*inputs.items(), ("C two encodings", None)]:
        started = time.monotonic()
        if batch is None:
            vb = encode(encoder, [(x, [0] * len(x)) for x, _ in two_b])
            vr = encode(encoder, [(x, [0] * len(x)) for x, _ in two_r])
            vectors[name] = np.hstack([vb, vr])
            tokens[name] = sum(len(x) for x, _ in two_b + two_r)
        else:
            vectors[name] = encode(encoder, [(x, t or [0] * len(x)) for x, t in batch])
            tokens[name] = sum(len(x) for x, _ in batch)
        seconds[name] = time.monotonic() - started
    print(f"{len(y)} sessions with reviews ({y.sum()} anomalous), test {test.sum()} "
          f"({y[test].sum()} anomalous)")
    print("| option | test PR-AUC | encoder tokens | encode s |")
    print("|---|---|---|---|")
    for name, v in vectors.items():
        sc = StandardScaler().fit(v[~test])
        lr = LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced")
        lr.fit(sc.transform(v[~test]), y[~test])
        ap = average_precision_score(y[test], lr.predict_proba(sc.transform(v[test]))[:, 1])
        print(f"| {name} | {ap:.3f} | {tokens[name]} | {seconds[name]:.0f} |")
    for fmt, rows in (("st1", st1), ("st2", st2)):
        texts = [r[3] for r in rows]
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        x = vec.fit_transform([t for t, k in zip(texts, test, strict=True) if not k])
        lr = LogisticRegression(C=10, max_iter=2000, class_weight="balanced").fit(x, y[~test])
        xt = vec.transform([t for t, k in zip(texts, test, strict=True) if k])
        ap = average_precision_score(y[test], lr.predict_proba(xt)[:, 1])
        print(f"| TF-IDF + LR on {fmt} text (reference) | {ap:.3f} | - | - |")


if __name__ == "__main__":
    main(*sys.argv[1:4])
