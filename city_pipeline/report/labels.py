"""Thai and English labels for values the sources give in Thai only (Traffy categories)."""

from __future__ import annotations

# Traffy Fondue's problem categories (the `type` tags of its public API), Thai as it sends them.
CATEGORY_EN = {
    "ถนน": "Roads",
    "ความสะอาด": "Cleanliness",
    "แสงสว่าง": "Street lighting",
    "ทางเท้า": "Footpaths",
    "น้ำท่วม": "Flooding",
    "ท่อระบายน้ำ": "Drains",
    "จราจร": "Traffic",
    "กีดขวาง": "Obstruction",
    "สัตว์จรจัด": "Stray animals",
    "สายไฟ": "Overhead cables",
    "ต้นไม้": "Trees",
    "ป้าย": "Signs",
    "ความปลอดภัย": "Safety",
    "เสียงรบกวน": "Noise",
    "อื่นๆ": "Other",
    "ไม่ระบุ": "Not given",
    "PM2.5": "PM2.5 dust",
    "คลอง": "Canals",
    "สะพาน": "Bridges",
    "น้ำ": "Water supply",
    "ร้องเรียน": "General complaint",
    "เสนอแนะ": "Suggestion",
    "สอบถาม": "Enquiry",
    "คนจรจัด": "Homeless people",
    "การเดินทาง": "Public transport",
    "ห้องน้ำ": "Public toilets",
    "ป้ายจราจร": "Traffic signs",
}


def category_label(category: str | None) -> str:
    """`ถนน · Roads`; a category not in the list keeps its Thai name and says so."""
    if not category:
        return "ไม่ระบุ · Not given"
    english = CATEGORY_EN.get(category)
    return f"{category} · {english}" if english else f"{category} · (untranslated)"
