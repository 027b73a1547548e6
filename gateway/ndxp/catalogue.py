"""The national services the province exchanges with over NDXP (Ca Mau's LGSP reaches 23).

No official NDXP service list is published; the codes follow one invented convention,
`QG.<system>.<operation>`, and owners carry agency electronic identifiers in the
Decision 20/2020/QĐ-TTg format. The router's default routes target the first three.
"""

from __future__ import annotations

__all__ = ["BUILT_IN_CATALOGUE", "CATALOGUE", "Catalogue", "NationalService", "catalogue_from",
           "find_service"]

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from gateway.settings import CatalogueSettings


@dataclass(frozen=True, slots=True)
class NationalService:
    """One national service reachable through NDXP."""

    code: str
    name: str
    owner_agency_code: str
    owner_name: str
    accepts_batch: bool

    def as_json(self) -> dict[str, str | bool]:
        """The service as listed by `GET /ndxp/v1/services`."""
        return {
            "code": self.code,
            "name": self.name,
            "owner_agency_code": self.owner_agency_code,
            "owner_name": self.owner_name,
            "accepts_batch": self.accepts_batch,
        }


_GOVERNMENT_OFFICE = ("000.00.00.G22", "Văn phòng Chính phủ")
_PUBLIC_SECURITY = ("000.00.00.G07", "Bộ Công an")
_PLANNING_INVESTMENT = ("000.00.00.G13", "Bộ Kế hoạch và Đầu tư")
_NATURAL_RESOURCES = ("000.00.00.G17", "Bộ Tài nguyên và Môi trường")
_FINANCE = ("000.00.00.G09", "Bộ Tài chính")
_TAX = ("000.00.09.G09", "Tổng cục Thuế")
_TREASURY = ("000.00.10.G09", "Kho bạc Nhà nước")
_SOCIAL_INSURANCE = ("000.00.00.G32", "Bảo hiểm xã hội Việt Nam")
_JUSTICE = ("000.00.00.G20", "Bộ Tư pháp")
_HOME_AFFAIRS = ("000.00.00.G18", "Bộ Nội vụ")
_TRANSPORT = ("000.00.00.G21", "Bộ Giao thông vận tải")


def _service(
    code: str, name: str, owner: tuple[str, str], *, accepts_batch: bool = False
) -> NationalService:
    return NationalService(code, name, owner[0], owner[1], accepts_batch)


CATALOGUE: tuple[NationalService, ...] = (
    _service("QG.VBDT.GUINHAN",
             "Trục liên thông văn bản quốc gia - Gửi, nhận văn bản điện tử", _GOVERNMENT_OFFICE),
    _service("QG.DVCQG.DONGBOHOSO",
             "Cổng Dịch vụ công quốc gia - Đồng bộ hồ sơ thủ tục hành chính",
             _GOVERNMENT_OFFICE, accepts_batch=True),
    _service("QG.HTBC.NOPBAOCAO",
             "Hệ thống thông tin báo cáo Chính phủ - Nộp báo cáo", _GOVERNMENT_OFFICE),
    _service("QG.VBDT.TRANGTHAI",
             "Trục liên thông văn bản quốc gia - Cập nhật trạng thái xử lý văn bản",
             _GOVERNMENT_OFFICE, accepts_batch=True),
    _service("QG.DVCQG.THANHTOAN",
             "Cổng Dịch vụ công quốc gia - Thanh toán trực tuyến phí, lệ phí",
             _GOVERNMENT_OFFICE),
    _service("QG.DVCQG.DANHGIA",
             "Cổng Dịch vụ công quốc gia - Đánh giá mức độ hài lòng",
             _GOVERNMENT_OFFICE, accepts_batch=True),
    _service("QG.HTBC.CHITIEU",
             "Hệ thống thông tin báo cáo Chính phủ - Đồng bộ chỉ tiêu kinh tế - xã hội",
             _GOVERNMENT_OFFICE, accepts_batch=True),
    _service("QG.CSDLDC.TRACUU",
             "Cơ sở dữ liệu quốc gia về dân cư - Tra cứu thông tin công dân", _PUBLIC_SECURITY),
    _service("QG.CSDLDC.XACTHUC",
             "Cơ sở dữ liệu quốc gia về dân cư - Xác thực thông tin công dân",
             _PUBLIC_SECURITY),
    _service("QG.DKDN.TRACUU",
             "Hệ thống thông tin quốc gia về đăng ký doanh nghiệp - Tra cứu doanh nghiệp",
             _PLANNING_INVESTMENT),
    _service("QG.DKDN.DONGBOHOKINHDOANH",
             "Hệ thống thông tin quốc gia về đăng ký doanh nghiệp - Đồng bộ hộ kinh doanh",
             _PLANNING_INVESTMENT, accepts_batch=True),
    _service("QG.DATDAI.TRACUUTHUADAT",
             "Cơ sở dữ liệu đất đai quốc gia - Tra cứu thông tin thửa đất", _NATURAL_RESOURCES),
    _service("QG.DATDAI.DONGBOBIENDONG",
             "Cơ sở dữ liệu đất đai quốc gia - Đồng bộ biến động đất đai",
             _NATURAL_RESOURCES, accepts_batch=True),
    _service("QG.THUE.NGHIAVUTAICHINH",
             "Hệ thống quản lý thuế - Luân chuyển hồ sơ nghĩa vụ tài chính về đất đai", _TAX),
    _service("QG.THUE.TRACUUMST", "Hệ thống quản lý thuế - Tra cứu mã số thuế", _TAX),
    _service("QG.KBNN.DONGBOTHUCHI",
             "Hệ thống thông tin quản lý ngân sách và kho bạc - Đồng bộ thu, chi ngân sách",
             _TREASURY, accepts_batch=True),
    _service("QG.TCCONG.TAISANCONG",
             "Cơ sở dữ liệu quốc gia về tài sản công - Đồng bộ tài sản công",
             _FINANCE, accepts_batch=True),
    _service("QG.BHXH.TRACUUTHEBHYT",
             "Bảo hiểm xã hội Việt Nam - Tra cứu thẻ bảo hiểm y tế", _SOCIAL_INSURANCE),
    _service("QG.BHXH.DONGBOLAODONG",
             "Bảo hiểm xã hội Việt Nam - Đồng bộ lao động tham gia bảo hiểm xã hội",
             _SOCIAL_INSURANCE, accepts_batch=True),
    _service("QG.LLTP.CAPPHIEU",
             "Cơ sở dữ liệu lý lịch tư pháp - Yêu cầu cấp phiếu lý lịch tư pháp", _JUSTICE),
    _service("QG.HOTICH.DONGBO",
             "Cơ sở dữ liệu hộ tịch điện tử toàn quốc - Đồng bộ dữ liệu hộ tịch",
             _JUSTICE, accepts_batch=True),
    _service("QG.CBCCVC.DONGBO",
             "Cơ sở dữ liệu quốc gia về cán bộ, công chức, viên chức - Đồng bộ hồ sơ",
             _HOME_AFFAIRS, accepts_batch=True),
    _service("QG.GPLX.TRACUU",
             "Hệ thống quản lý giấy phép lái xe - Tra cứu giấy phép lái xe", _TRANSPORT),
)
"""The national services, in the order `GET /ndxp/v1/services` lists them."""



class Catalogue:
    """The national services one deployment knows: the built-in list, extended by settings.

    The gateway and the stub read the same settings (`[[catalogue.services]]`), so a
    service added for a newly connected system exists on both sides.
    """

    def __init__(self, services: Iterable[NationalService]) -> None:
        self._by_code: dict[str, NationalService] = {}
        for service in services:
            self._by_code[service.code] = service  # a later entry replaces a listed code

    def find(self, code: str) -> NationalService | None:
        """The service with this code, or None."""
        return self._by_code.get(code)

    def __iter__(self) -> Iterator[NationalService]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def extended(self, services: Iterable[NationalService]) -> Catalogue:
        """This catalogue plus `services` (replacing listed ones of the same code)."""
        return Catalogue([*self, *services])


BUILT_IN_CATALOGUE = Catalogue(CATALOGUE)


def catalogue_from(settings: CatalogueSettings) -> Catalogue:
    """The built-in catalogue plus the services the settings add."""
    return BUILT_IN_CATALOGUE.extended(
        NationalService(e.code, e.name, e.owner_agency_code, e.owner_name, e.accepts_batch)
        for e in settings.services
    )


_BY_CODE: Mapping[str, NationalService] = {service.code: service for service in CATALOGUE}


def find_service(code: str) -> NationalService | None:
    """The built-in catalogue's service with this code, or None."""
    return _BY_CODE.get(code)
