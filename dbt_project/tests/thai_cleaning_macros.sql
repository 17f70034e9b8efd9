-- Unit test of the Thai cleaning macros on literal inputs: returns every case whose result differs
-- from the expected value. (dbt unit_tests need a model; these macros are also covered there.)
{{ config(tags=['macro_test']) }}

with

text_cases as (

    select
        cases.case_name,
        cases.actual,
        cases.expected
    from (
        values
        ('digits', {{ thai_digits_to_arabic("'๐๑๒๓๔๕๖๗๘๙ ถนน ๓'") }}, '0123456789 ถนน 3'),
        ('clean_text', {{ clean_text("'  เทศบาล\u00a0นคร   ขอนแก่น \t'") }}, 'เทศบาล นคร ขอนแก่น'),
        ('clean_text_sentinel_dash', {{ clean_text("' - '") }}, null),
        ('clean_text_sentinel_na', {{ clean_text("'N/A'") }}, null),
        ('clean_text_sentinel_999', {{ clean_text("'-999'") }}, null),
        ('clean_text_empty', {{ clean_text("''") }}, null),
        ('strip_amphoe', {{ strip_admin_prefix("'อำเภอเมืองขอนแก่น'") }}, 'เมืองขอนแก่น'),
        ('strip_a_dot', {{ strip_admin_prefix("'อ. เมือง'") }}, 'เมือง'),
        ('strip_khet', {{ strip_admin_prefix("'เขตบางรัก'") }}, 'บางรัก'),
        ('strip_tambon', {{ strip_admin_prefix("'ตำบลในเมือง'") }}, 'ในเมือง'),
        ('strip_t_dot', {{ strip_admin_prefix("'ต.ศิลา'") }}, 'ศิลา'),
        ('strip_khwaeng', {{ strip_admin_prefix("'แขวงสีลม'") }}, 'สีลม'),
        ('strip_changwat', {{ strip_admin_prefix("'จังหวัดขอนแก่น'") }}, 'ขอนแก่น'),
        ('strip_ch_dot', {{ strip_admin_prefix("'จ.ขอนแก่น'") }}, 'ขอนแก่น'),
        ('strip_keeps_plain', {{ strip_admin_prefix("'ตลาด'") }}, 'ตลาด'),
        ('key_spaces_case', {{ admin_name_key("' อ. เมือง  ขอนแก่น '") }}, 'เมืองขอนแก่น'),
        ('key_english', {{ admin_name_key("'Mueang Khon Kaen'") }}, 'mueangkhonkaen')
    ) as cases (case_name, actual, expected)

),

date_cases as (

    select
        cases.case_name,
        cases.actual,
        cases.expected
    from (
        values
        ('be_year', cast({{ be_year_to_ce('2567') }} as varchar), '2024'),
        ('ce_year_kept', cast({{ be_year_to_ce('2024') }} as varchar), '2024'),
        ('yymm', cast({{ be_yymm_to_date("'6712'") }} as varchar), '2024-12-01'),
        ('yymm_thai_digits', cast({{ be_yymm_to_date("'๖๗๐๑'") }} as varchar), '2024-01-01'),
        ('yyyymm_be', cast({{ be_yymm_to_date("'256702'") }} as varchar), '2024-02-01'),
        ('yymm_bad_month', cast({{ be_yymm_to_date("'6713'") }} as varchar), null),
        ('yymm_text', cast({{ be_yymm_to_date("'abcd'") }} as varchar), null),
        ('month_abbr', cast({{ thai_month_number("'ม.ค.'") }} as varchar), '1'),
        ('month_full', cast({{ thai_month_number("'มกราคม'") }} as varchar), '1'),
        ('month_abbr_no_dots', cast({{ thai_month_number("'มีค'") }} as varchar), '3'),
        ('month_dec', cast({{ thai_month_number("' ธ.ค. '") }} as varchar), '12'),
        ('month_unknown', cast({{ thai_month_number("'Jan'") }} as varchar), null),
        ('date_abbr_2digit_be', cast({{ thai_text_to_date("'6 ธ.ค. 67'") }} as varchar), '2024-12-06'),
        ('date_full_4digit_be', cast({{ thai_text_to_date("'17 มกราคม 2567'") }} as varchar), '2024-01-17'),
        ('date_thai_digits', cast({{ thai_text_to_date("'๑๗ ม.ค. ๒๕๖๗'") }} as varchar), '2024-01-17'),
        ('date_slashes_be', cast({{ thai_text_to_date("'05/01/2567'") }} as varchar), '2024-01-05'),
        ('date_iso_be', cast({{ thai_text_to_date("'2567-02-29'") }} as varchar), '2024-02-29'),
        ('date_iso_ce', cast({{ thai_text_to_date("'2024-03-31'") }} as varchar), '2024-03-31'),
        ('date_invalid_day', cast({{ thai_text_to_date("'31 ก.พ. 2567'") }} as varchar), null),
        ('date_garbage', cast({{ thai_text_to_date("'เมื่อวาน'") }} as varchar), null)
    ) as cases (case_name, actual, expected)

),

time_cases as (

    select
        'utc_to_bangkok' as case_name,
        cast({{ to_city_local_time("timestamptz '2023-04-08 11:53:47.240886+00'") }} as varchar) as actual,
        '2023-04-08 18:53:47.240886' as expected

),

all_cases as (

    select * from text_cases
    union all
    select * from date_cases
    union all
    select * from time_cases

)

select * from all_cases
where actual is distinct from expected
