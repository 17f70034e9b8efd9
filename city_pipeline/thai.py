"""Thai calendar facts shared by the sources, the synthetic recordings and the report."""

# Buddhist Era year = Common Era year + 543 (2567 BE = 2024 CE).
BE_OFFSET = 543

THAI_MONTHS_SHORT = (
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
)
