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

# coco-mini: the first 8 images of coco128 whose Flickr licence allows redistribution with attribution (CC BY,
# CC BY-SA, no known restrictions, US government work), with all their annotations and all 80 categories
c=$out/coco-mini
rm -rf "$c"
mkdir -p "$c/annotations" "$c/train2017"
python3 - "$src/coco128" "$c" <<'PY'
import json, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
data = json.load(open(f"{src}/annotations/instances_train2017.json"))
keep = [im for im in sorted(data["images"], key=lambda i: i["file_name"]) if im["license"] in (4, 5, 7, 8)][:8]
ids = {im["id"] for im in keep}
out = {k: data[k] for k in ("info", "licenses", "categories")}
out["images"] = keep
out["annotations"] = [a for a in data["annotations"] if a["image_id"] in ids]
json.dump(out, open(f"{dst}/annotations/instances_train2017.json", "w"))
for im in keep:
    shutil.copy(f"{src}/train2017/{im['file_name']}", f"{dst}/train2017/")
lic = {l["id"]: l["name"] for l in data["licenses"]}
with open(f"{dst}/SOURCE.md", "w") as f:
    f.write("# coco-mini\n\n8 images of COCO train2017 (taken from coco128, the first 128 images of train2017 as "
            "github.com/developer0hye/COCO128) whose Flickr licence allows redistribution, with all their instance "
            "annotations and all 80 categories, in the original COCO 2017 format. Made by tools/bundle-datasets.sh.\n\n"
            "Licences: the COCO annotations are CC BY 4.0 (COCO Consortium). Each image keeps its own licence:\n\n")
    for im in keep:
        f.write(f"- {im['file_name']}: {lic[im['license']]} ({im.get('flickr_url', im.get('coco_url', ''))})\n")
print("coco-mini:", len(keep), "images,", len(out["annotations"]), "annotations")
PY
echo "bundled into $out"
