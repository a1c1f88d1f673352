#!/usr/bin/env bash
# Re-creates datasets/ from ../shared/data (how the bundled copies were made; a fresh clone needs nothing of this).
# raccoon is converted to the VOCdevkit layout with the upstream CSV train/test split; the others are copied.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$here/../shared/data}
out=$here/datasets

r=$out/raccoon
rm -rf "$r/Annotations" "$r/JPEGImages" "$r/ImageSets"
mkdir -p "$r/Annotations" "$r/JPEGImages" "$r/ImageSets/Main"
cp "$src/raccoon/annotations/"*.xml "$r/Annotations/"
cp "$src/raccoon/images/"*.jpg "$r/JPEGImages/"
for split in train test; do
  # filename is the first CSV column; one id per image, in first-seen order
  tail -n +2 "$src/raccoon/splits/${split}_labels.csv" | cut -d, -f1 | sed 's/\.jpg$//' | awk '!seen[$0]++' \
    > "$r/ImageSets/Main/$split.txt"
done
echo raccoon > "$r/classes.txt"
cp "$src/raccoon/LICENSE" "$r/LICENSE"

v=$out/voc-mini100
rm -rf "$v"
mkdir -p "$v"
cp -r "$src/voc-mini100/Annotations" "$src/voc-mini100/JPEGImages" "$src/voc-mini100/ImageSets" "$v/"
cp "$src/voc-mini100/voc.names" "$src/voc-mini100/LICENSE" "$src/voc-mini100/SOURCE.md" "$v/"

g=$out/eval-golden
rm -rf "$g/odm-person" "$g/review-toyexample"
mkdir -p "$g"
cp -r "$src/eval-golden/odm-person" "$g/"
t=$g/review-toyexample
mkdir -p "$t/results"
cp -r "$src/eval-golden/review-toyexample/"{LICENSE,README.md,dets_classname_abs_xyx2y2} "$t/"
# As a VOCdevkit folder: the ground-truth XML as Annotations/, and the detections (one file per image,
# "<class> <score> <x1> <y1> <x2> <y2>") as the devkit's results file, images in name order, lines in order.
cp -r "$src/eval-golden/review-toyexample/gts_vocpascal_format" "$t/Annotations"
echo cat > "$t/classes.txt"
for f in $(ls "$t/dets_classname_abs_xyx2y2/"*.txt | sort); do
  id=$(basename "$f" .txt)
  awk -v id="$id" 'NF == 6 { print id, $2, $3, $4, $5, $6 }' "$f"
done > "$t/results/comp4_det_test_cat.txt"
echo "bundled into $out"
