-- DOPA registered population by admin area and month. The month is Common Era, read from the
-- file's two-digit Buddhist Era code (6712 -> 2024-12-01) when the raw month is missing.
with

source as (

    select * from {{ raw_source('dopa_population') }}

),

renamed as (

    select
        coalesce(month, {{ be_yymm_to_date('yymm_be') }}) as month,
        {{ clean_text('yymm_be') }} as yymm_be,
        lower({{ clean_text('level') }}) as level,
        {{ clean_text(thai_digits_to_arabic('admin_code')) }} as admin_code,
        {{ clean_text('admin_name_th') }} as admin_name_th,
        {{ null_if_negative('male') }} as male,
        {{ null_if_negative('female') }} as female,
        {{ null_if_negative('total') }} as total,
        {{ null_if_negative('households') }} as households,
        date as partition_date
    from source

),

final as (

    select * from renamed
    qualify row_number() over (
            partition by month, level, admin_code, admin_name_th order by partition_date desc
        ) = 1

)

select * from final
