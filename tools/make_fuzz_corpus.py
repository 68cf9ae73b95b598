#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus, tests/fuzz/corpus/{csv,checkpoint,args,safetensors}/ (committed; run
again only to change it). Checkpoints come from the CLI of a build (default build/rnnattn): a
tutorial model (format version 9) and files of versions 1 to 8 made from it as
tests/io/test_checkpoint.cpp's older_file does, plus a two-layer bidirectional model, a CSV-trained
one, an LSTM and a GRU model, and models with an embedding (texts, the sentiment task's ids); each is written twice, behind a mode byte 0 (as is) and 1 (the target repairs the
checksum). The first byte of a CSV seed picks the reader's options (tests/fuzz/fuzz_csv.cpp)."""
import os
import struct
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cli = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build", "rnnattn")
out = os.path.join(root, "tests", "fuzz", "corpus")


def fnv(data, basis):
    h = basis
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def older(v9, version, source, column):
    """A file of an older version, from a version 9 Elman file with no input-column table (F = 0),
    no embedding and no text record: version 8 lacks the text layout (2 bytes before n); version 7
    also the data file stamp (16 bytes before that); version 6 also V (4 bytes after the structure
    fields) and the empty text record (12 bytes before the stamp); version 5 has version 6's
    layout."""
    b = bytearray(v9)
    # n follows the 92 fixed bytes, the two strings, F, the training and text records, the stamp
    # and the text layout.
    n_at = 92 + 4 + len(source) + 4 + len(column) + 4 + 32 + 12 + 16 + 2
    if version <= 8:
        del b[n_at - 2:n_at]
        n_at -= 2
    if version <= 7:
        del b[n_at - 16:n_at]
    if version <= 6:
        del b[n_at - 28:n_at - 16]
        del b[40:44]
    f_at = 88 + 4 + len(source) + 4 + len(column)
    if version <= 4:
        del b[f_at + 4:f_at + 36]  # version 4 has no training record
    if version <= 3:
        del b[32:40]  # version 3 has no structure fields
    if version <= 2:
        del b[f_at - 8:f_at - 4]  # versions 1 and 2 have no input-column table
    b[8:12] = struct.pack("<I", version)
    basis = 1469598103934665603 if version == 1 else 14695981039346656037
    b[-8:] = struct.pack("<Q", fnv(bytes(b[:-8]), basis))
    return bytes(b)


def put(kind, name, data):
    os.makedirs(os.path.join(out, kind), exist_ok=True)
    with open(os.path.join(out, kind, name), "wb") as f:
        f.write(data)


with tempfile.TemporaryDirectory() as d:
    def train(name, *args):
        path = os.path.join(d, name)
        subprocess.run([cli, "train", "--epochs", "1", "--device", "cpu", "--quiet", "--save", path,
                        *args], check=True, stdout=subprocess.DEVNULL)
        return open(path, "rb").read()

    fib = train("fib.bin", "--data", "fib")
    texts = os.path.join(d, "texts.csv")
    with open(texts, "w") as f:
        f.write('review,label\n"A great film, really",pos\nboring and dull,neg\n'
                'loved it,pos\n"awful\nplot",neg\n')
    files = {"v9_fib": fib, "v8_fib": older(fib, 8, "fib", ""), "v7_fib": older(fib, 7, "fib", ""), "v6_fib": older(fib, 6, "fib", ""), "v5_fib": older(fib, 5, "fib", ""),
             "v4_fib": older(fib, 4, "fib", ""),
             "v3_fib": older(fib, 3, "fib", ""),
             "v2_fib": older(fib, 2, "fib", ""), "v1_fib": older(fib, 1, "fib", ""),
             "v9_text": train("x.bin", "--data", texts, "--text-column", "review",
                              "--label-column", "label", "--steps", "4", "--hidden", "2",
                              "--embedding", "3"),
             "v9_text_pre": train("xp.bin", "--data", texts, "--text-column", "review",
                                  "--label-column", "label", "--steps", "4", "--hidden", "2",
                                  "--embedding", "3", "--padding", "pre", "--truncating", "pre"),
             "v9_sentiment_tokens": train("k.bin", "--data", "sentiment", "--steps", "8",
                                          "--hidden", "2", "--embedding", "2",
                                          "--train-sequences", "4", "--test-sequences", "2"),
             "v9_sentiment": train("t.bin", "--data", "sentiment", "--steps", "8", "--hidden", "2",
                                   "--train-sequences", "4", "--test-sequences", "2", "--batch",
                                   "3", "--validation-split", "0.5"),
             "v9_layers": train("l.bin", "--data", "fib", "--layers", "2", "--bidirectional",
                                "--hidden", "3"),
             "v9_csv": train("s.bin", "--data", os.path.join(root, "data", "sunspots.csv"),
                             "--column", "SUNACTIVITY", "--hidden", "3", "--steps", "5"),
             "v9_lstm": train("lstm.bin", "--data", "fib", "--cell", "lstm", "--hidden", "2",
                              "--bidirectional", "--steps", "6"),
             "v9_gru": train("gru.bin", "--data", "fib", "--cell", "gru", "--hidden", "2",
                             "--layers", "2", "--steps", "6", "--model", "plain")}
    for name, data in files.items():
        put("checkpoint", name, b"\x00" + data)
        put("checkpoint", name + "_fixsum", b"\x01" + data)

    # safetensors: rnnattn's exports (with metadata) and PyTorch's fixture (without), behind the
    # target's option byte (bit 0: --steps 5).
    for name in ("fib", "l", "s", "lstm", "gru", "x"):
        st = os.path.join(d, name + ".safetensors")
        subprocess.run([cli, "export", "--model", os.path.join(d, name + ".bin"), "--output", st],
                       check=True, stdout=subprocess.DEVNULL)
        put("safetensors", "export_" + name, b"\x00" + open(st, "rb").read())
    for cell in ("rnn", "lstm", "gru"):
        torch_file = os.path.join(root, "tests", "fixtures", "torch_" + cell + ".safetensors")
        put("safetensors", "torch_" + cell, b"\x00" + open(torch_file, "rb").read())
        put("safetensors", "torch_" + cell + "_steps", b"\x01" + open(torch_file, "rb").read())

# The first byte picks the columns, target and T; the second the series options (missing policy,
# differences, scaling: tests/fuzz/fuzz_csv.cpp).
csv = {
    "one_column": b"\x00\x00value\n1\n2\n3.5\n4\n5e2\n6\n7\n8\n",
    "year_index": b"\x00\x03YEAR,SUNACTIVITY\n1700,5\n1701,11\n1702,16\n1703,23\n1704,36\n1705,58\n",
    "named": b"\x01\x06a,b,c\n1,2,3\n4,5,6\n7,8,9\n10,11,12\n13,14,15\n",
    "several": b"\x0b\x09a,b,c\n1,2,3\n4,5,6\n7,8,9\n10,11,12\n13,14,15\n16,17,18\n",
    "bom_crlf": b"\x04\x00\xef\xbb\xbfvalue\r\n1\r\n2\r\n3\r\n4\r\n5\r\n",
    "bad_value": b"\x00\x00value\n1\nx\n3\n",
    "ragged": b"\x01\x00a,b\n1,2\n3\n4,5\n",
    "nan_inf": b"\x00\x00value\n1\nnan\ninf\n-1e400\n",
    "header_only": b"\x00\x00a,b\n",
    "quoted": b"\x01\x00a,note\n1,\"x, y\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n4,z\n5,w\n",
    "gaps_drop": b"\x00\x01value\n1\n\nNA\n4\n.\n6\n7\n8\n",
    "gaps_fill": b"\x00\x05value\nNA\n2\n\n4\nnull\n6\n7\nNaN\n",
    "hex": b"\x00\x00value\n1\n0x10\n3\n",
    # Texts (mode 14: columns "text" and "label"; bit 0 of the second byte drops other labels).
    "texts": b"\x0e\x01text,label\n\"Great, really!\",pos\nbad \xc3\xa9t\xc3\xa9,neg\nso so,mixed\n"
             b"\"two\nlines\",neg\n",
    "texts_utf8": b"\x0e\x00text,label\ngood,1\nbad\xff,0\n",
}
for name, data in csv.items():
    put("csv", name, data)

args = {
    "typical": b"--data\x00fib\x00--epochs\x0030\x00--lr\x000.001\x00--compare",
    "columns": b"--column\x00A,B,,C\x00--seed\x00-7",
    "bad_int": b"--epochs\x0012x\x00--lr\x00nan",
    "missing_value": b"--data",
    "help": b"--help\x00--quiet",
}
for name, data in args.items():
    put("args", name, data)
print("wrote", out)
