#!/usr/bin/env bash
# Re-creates datasets/ from ../shared/data (how the bundled copies were made; a fresh clone needs nothing of this).
# raccoon is converted to the VOCdevkit layout with the upstream CSV train/test split; the others are copied.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$here/../shared/data}
out=$here/datasets

r=$out/raccoon
rm -rf "$r"
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
rm -rf "$g"
mkdir -p "$g"
cp -r "$src/eval-golden/odm-person" "$g/"
mkdir -p "$g/review-toyexample"
cp -r "$src/eval-golden/review-toyexample/"{LICENSE,README.md,dets_classname_abs_xyx2y2,dets_classname_abs_xywh,gts_vocpascal_format,voc.names} \
  "$g/review-toyexample/"
echo "bundled into $out"
