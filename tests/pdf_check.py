"""Reads a PDF the way a person's viewer would (pypdf): prints its title, its pages' sizes in
points and their text, as JSON, so a test can check the paper, the page count and what it says.

Usage: pdf_check.py FILE
"""
import json
import sys

from pypdf import PdfReader

reader = PdfReader(sys.argv[1])
pages = []
for page in reader.pages:
    box = page.mediabox
    pages.append({
        "width": round(float(box.width), 1),
        "height": round(float(box.height), 1),
        "text": page.extract_text(),
    })
print(json.dumps({"title": reader.metadata.title if reader.metadata else None, "pages": pages}))
