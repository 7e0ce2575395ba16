"""Enrich benchmark: mediamon's `Enricher.enrich` against Media Cloud's `mcmetadata` pieces,
side by side in one process, on the same 1,000 generated HTML articles, on one core.

Setup (a separate virtualenv, so the project's .venv stays as requirements.lock made it):

    python3.11 -m venv /tmp/benchvenv
    /tmp/benchvenv/bin/pip install --upgrade pip  # pip 23.2 crashes on lxml's extras
    /tmp/benchvenv/bin/pip install -r requirements.lock
    /tmp/benchvenv/bin/pip install --no-deps -e .
    /tmp/benchvenv/bin/pip install -r benchmarks/requirements-enrich.txt

Run (from the repository root):

    /tmp/benchvenv/bin/python benchmarks/enrich.py [--articles 1000] [--passes 5] [--json]

Other options: --save-json PATH (JSON next to the Markdown), --no-pin, --no-isolated.

Without mcmetadata installed (e.g. `.venv/bin/python benchmarks/enrich.py`) only mediamon is
measured and the peer is reported as missing.

What is measured:
- mediamon: `Enricher.from_path().enrich(RawArticle(id, title, content_html))` - HTML cleaning,
  language detection, topic tagging and whatever else `enrich` does (fingerprint, story id).
- peer: `mcmetadata.text.strip_tags` on title and body, then `mcmetadata.languages.from_html`
  (meta-tag regexes plus py3langid's `classify`) on the HTML and the stripped text.
Inputs are built before the timing (RawArticle records for mediamon, strings for the peer).
Both systems are loaded once (import, models, a warm-up on 50 articles), then timed over
`--passes` passes each (passes alternate between the systems) with time.perf_counter, and
with time.process_time beside it (CPU time: what a busy neighbour on the machine disturbs
least). Each mediamon pass gets a fresh `Enricher.from_path()` (built outside the timing), so
its story index starts empty every pass, as it would for 1,000 new articles.
The process is pinned to one CPU and BLAS/OpenMP thread pools are set to one thread before
numpy loads; nothing in the benchmark starts threads. RSS comes from /proc/self/status.
mediamon's time is also split by stage by calling its stage functions directly on the same
inputs (`html_to_text`, `detect_language`, `Tagger.tag`, `simhash`).
"""

from __future__ import annotations

import argparse
import gc
import html
import importlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

# One core: thread pools of native libraries are fixed before anything imports numpy.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SEED = 20170123  # the first Astana meeting on Syria
WARMUP = 50
TARGET_RATE = 2_000.0  # mediamon articles/s on one core
TARGET_RATIO = 5.0  # mediamon / peer
LANG_WEIGHTS = {"ru": 30, "en": 20, "fr": 10, "de": 10, "tr": 10, "ar": 10, "kk": 10}
SCRIPT_MARKERS = ("dataLayer", "display:flex", "shareConfig")

SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "Delegations from Russia, Turkey and Iran met in Astana for a new round of Syria talks.",
        "The UN envoy said the ceasefire in Syria was holding in most areas.",
        "Fighting continued near Idlib despite the agreement reached in Astana.",
        "The Security Council will discuss the humanitarian situation in Aleppo on Friday.",
        "Aid convoys reached the besieged town after weeks of negotiations.",
        "The Syrian opposition said it would send a smaller delegation to the talks.",
        "Officials in Damascus welcomed the proposal for new de-escalation zones.",
        "The UN refugee agency said more than five million Syrians have fled the country.",
        "Guarantor states agreed to set up a joint group to monitor the truce.",
        "Analysts said the Astana process had given Moscow a leading role in the diplomacy.",
        "The central bank left interest rates unchanged for the third month in a row.",
        "Heavy rain caused flooding in several districts of the capital on Monday.",
        "The city council approved a new budget for public transport and road repairs.",
        "Shares in technology companies rose sharply after strong quarterly results.",
        "FC Astana beat their rivals two goals to one in the Champions League qualifier.",
        "Air Astana will add two new routes to Europe from the summer schedule.",
        "The minister said the new law would make it easier to register small businesses.",
        "Teachers in several regions went on strike over pay and working conditions.",
        "A new exhibition of contemporary art opened at the national museum on Saturday.",
        "Police said three people were detained after a protest outside the parliament.",
        "The company plans to build a new factory and hire about 800 workers.",
        "Oil prices fell after reports that production would increase next month.",
        "Doctors warned that the flu season could start earlier than usual this year.",
        "The government announced a programme to support farmers affected by the drought.",
        "The UN Secretary-General called on all parties to protect civilians.",
        "Representatives of the armed opposition left the conference hall without signing.",
        "The talks are expected to last two days, a spokesman for the foreign ministry said.",
        "Turkey and Russia disagreed over which groups should be covered by the truce.",
        "Iran's delegation said the guarantors were committed to the unity of Syria.",
        "UNICEF said thousands of children in eastern Aleppo needed urgent medical care.",
        "The next round of negotiations in Geneva will be chaired by the UN envoy.",
        "Residents said the electricity supply had improved in recent weeks.",
        "The president signed a decree on the reform of the tax system.",
        "Scientists discovered a new species of frog in the mountains of the south.",
        "The national team will play two friendly matches before the tournament.",
        "Traffic on the main highway was closed for several hours after an accident.",
        "Exports of grain grew by twelve percent compared with the same period last year.",
        "The opposition leader said the election results did not reflect the will of voters.",
        "A spokesman for the ministry declined to comment on the reports.",
        "The festival attracted more than fifty thousand visitors over three days.",
        "Experts say the new pipeline could change the energy market in the region.",
        "The mayor promised to open ten new kindergartens by the end of the year.",
        "Negotiators worked late into the night on the text of the final statement.",
        "The Syrian government and rebels exchanged prisoners under the Astana agreement.",
        "The train service between the two cities will resume next week.",
    ),
    "ru": (
        "Делегации России, Турции и Ирана провели в Астане новый раунд переговоров.",
        "Спецпосланник ООН заявил, что режим прекращения огня в Сирии в целом соблюдается.",
        "Бои под Идлибом продолжились, несмотря на договоренности, достигнутые в Астане.",
        "Совбез ООН обсудит гуманитарную ситуацию в Алеппо в пятницу.",
        "Гуманитарные конвои добрались до осажденного города после недель переговоров.",
        "Сирийская оппозиция сообщила, что направит на встречу сокращенную делегацию.",
        "В Дамаске приветствовали предложение о создании новых зон деэскалации.",
        "По данным УВКБ ООН, более пяти миллионов сирийцев покинули страну.",
        "Страны-гаранты договорились создать совместную группу для контроля за перемирием.",
        "Эксперты считают, что астанинский процесс укрепил роль Москвы в урегулировании.",
        "Центробанк сохранил ключевую ставку на прежнем уровне третий месяц подряд.",
        "Сильные дожди вызвали подтопления в нескольких районах столицы в понедельник.",
        "Городская дума утвердила новый бюджет на общественный транспорт и ремонт дорог.",
        "Акции технологических компаний резко выросли после сильной квартальной отчетности.",
        "ФК Астана обыграл соперника со счетом два один в квалификации Лиги чемпионов.",
        "Авиакомпания Эйр Астана откроет два новых рейса в Европу летом.",
        "Министр заявил, что новый закон упростит регистрацию малого бизнеса.",
        "Учителя в нескольких регионах объявили забастовку из-за низкой зарплаты.",
        "В национальном музее в субботу открылась выставка современного искусства.",
        "Полиция сообщила о задержании трех человек после акции у здания парламента.",
        "Компания планирует построить новый завод и нанять около восьмисот сотрудников.",
        "Цены на нефть снизились на фоне сообщений о росте добычи в следующем месяце.",
        "Врачи предупредили, что сезон гриппа в этом году может начаться раньше обычного.",
        "Правительство объявило о программе поддержки аграриев, пострадавших от засухи.",
        "Генсек ООН призвал все стороны защищать мирных жителей и пропускать помощь.",
        "Представители вооруженной оппозиции покинули зал, не подписав документ.",
        "Переговоры продлятся два дня, сообщил официальный представитель МИД.",
        "Турция и Россия разошлись во мнениях о том, на кого распространяется перемирие.",
        "Иранская делегация заявила, что гаранты привержены территориальной целостности Сирии.",
        "ЮНИСЕФ сообщил, что тысячи детей в восточном Алеппо нуждаются в срочной помощи.",
        "Следующий раунд переговоров в Женеве проведет спецпосланник ООН.",
        "Жители говорят, что в последние недели электричество стали подавать чаще.",
        "Президент подписал указ о реформе налоговой системы.",
        "Ученые обнаружили новый вид лягушек в горах на юге страны.",
        "Сборная проведет два товарищеских матча перед началом турнира.",
        "Движение на главной трассе было перекрыто на несколько часов после аварии.",
        "Экспорт зерна вырос на двенадцать процентов по сравнению с прошлым годом.",
        "Лидер оппозиции заявил, что итоги выборов не отражают волю избирателей.",
        "Представитель министерства отказался комментировать эти сообщения.",
        "Фестиваль за три дня посетили более пятидесяти тысяч человек.",
        "Эксперты считают, что новый трубопровод изменит энергетический рынок региона.",
        "Мэр пообещал открыть десять новых детских садов до конца года.",
        "Переговорщики до поздней ночи работали над текстом итогового заявления.",
        "Правительство Сирии и повстанцы обменялись пленными по астанинским договоренностям.",
        "Движение поездов между двумя городами возобновится на следующей неделе.",
    ),
    "fr": (
        "Les délégations de la Russie, de la Turquie et de l'Iran se sont réunies à Astana.",
        "L'envoyé de l'ONU a déclaré que le cessez-le-feu en Syrie était globalement respecté.",
        "Les combats se sont poursuivis près d'Idleb malgré l'accord conclu à Astana.",
        "Le Conseil de sécurité examinera vendredi la situation humanitaire à Alep.",
        "Les convois d'aide ont atteint la ville assiégée après des semaines de négociations.",
        "L'opposition syrienne enverra une délégation réduite aux pourparlers.",
        "Damas a salué la proposition de créer de nouvelles zones de désescalade.",
        "Selon le HCR, plus de cinq millions de Syriens ont fui le pays.",
        "Les pays garants ont convenu de créer un groupe conjoint pour surveiller la trêve.",
        "Pour les analystes, le processus d'Astana a donné à Moscou un rôle central.",
        "La banque centrale a maintenu ses taux directeurs pour le troisième mois consécutif.",
        "De fortes pluies ont provoqué des inondations dans plusieurs quartiers de la capitale.",
        "Le conseil municipal a adopté un nouveau budget pour les transports publics.",
        "Les actions des entreprises technologiques ont fortement progressé.",
        "Le FC Astana a battu son adversaire deux buts à un en qualification.",
        "Le ministre a affirmé que la nouvelle loi simplifierait la création d'entreprises.",
        "Les enseignants de plusieurs régions se sont mis en grève pour les salaires.",
        "Une exposition d'art contemporain a ouvert ses portes samedi au musée national.",
        "La police a indiqué que trois personnes avaient été interpellées devant le parlement.",
        "L'entreprise prévoit de construire une usine et d'embaucher huit cents salariés.",
        "Les prix du pétrole ont reculé après l'annonce d'une hausse de la production.",
        "Les médecins préviennent que la grippe pourrait arriver plus tôt cette année.",
        "Le gouvernement a annoncé un plan d'aide aux agriculteurs touchés par la sécheresse.",
        "Le secrétaire général des Nations unies a appelé les parties à protéger les civils.",
        "Les représentants de l'opposition armée ont quitté la salle sans signer le texte.",
        "Les pourparlers devraient durer deux jours, selon le porte-parole du ministère.",
        "La Turquie et la Russie restent en désaccord sur les groupes couverts par la trêve.",
        "La délégation iranienne a réaffirmé l'attachement des garants à l'unité de la Syrie.",
        "L'UNICEF estime que des milliers d'enfants à Alep ont besoin de soins urgents.",
        "Le prochain cycle de négociations à Genève sera présidé par l'envoyé de l'ONU.",
        "Les habitants affirment que l'approvisionnement en électricité s'est amélioré.",
        "Le président a signé un décret sur la réforme du système fiscal.",
        "Des chercheurs ont découvert une nouvelle espèce de grenouille dans les montagnes.",
        "L'équipe nationale disputera deux matchs amicaux avant le tournoi.",
        "La circulation sur l'autoroute a été interrompue pendant plusieurs heures.",
        "Les exportations de céréales ont augmenté de douze pour cent sur un an.",
        "Le chef de l'opposition conteste les résultats de l'élection.",
        "Le festival a attiré plus de cinquante mille visiteurs en trois jours.",
        "Le maire a promis d'ouvrir dix nouvelles crèches d'ici la fin de l'année.",
        "Les négociateurs ont travaillé tard dans la nuit sur la déclaration finale.",
    ),
    "de": (
        "Delegationen aus Russland, der Türkei und dem Iran trafen sich in Astana.",
        "Der UN-Sondergesandte sagte, die Waffenruhe in Syrien werde weitgehend eingehalten.",
        "Die Kämpfe bei Idlib gingen trotz der in Astana erzielten Einigung weiter.",
        "Der UN-Sicherheitsrat berät am Freitag über die humanitäre Lage in Aleppo.",
        "Hilfskonvois erreichten die belagerte Stadt nach wochenlangen Verhandlungen.",
        "Die syrische Opposition kündigte an, eine kleinere Delegation zu entsenden.",
        "Damaskus begrüßte den Vorschlag für neue Deeskalationszonen.",
        "Laut UNHCR sind mehr als fünf Millionen Syrer aus dem Land geflohen.",
        "Die Garantiemächte vereinbarten eine Gruppe zur Überwachung der Waffenruhe.",
        "Beobachter sagen, der Astana-Prozess habe Moskau eine Führungsrolle verschafft.",
        "Die Zentralbank ließ den Leitzins den dritten Monat in Folge unverändert.",
        "Starker Regen führte am Montag zu Überschwemmungen in mehreren Stadtteilen.",
        "Der Stadtrat beschloss einen neuen Haushalt für Nahverkehr und Straßenbau.",
        "Technologiewerte legten nach starken Quartalszahlen deutlich zu.",
        "Der FC Astana gewann das Qualifikationsspiel mit zwei zu eins.",
        "Der Minister sagte, das neue Gesetz erleichtere die Gründung kleiner Unternehmen.",
        "Lehrer in mehreren Bundesländern traten wegen der Bezahlung in den Streik.",
        "Im Nationalmuseum wurde am Samstag eine Ausstellung zeitgenössischer Kunst eröffnet.",
        "Die Polizei nahm nach einer Kundgebung vor dem Parlament drei Personen fest.",
        "Das Unternehmen will eine Fabrik bauen und rund achthundert Mitarbeiter einstellen.",
        "Die Ölpreise fielen nach Berichten über eine höhere Fördermenge.",
        "Ärzte warnen, dass die Grippesaison in diesem Jahr früher beginnen könnte.",
        "Die Regierung kündigte Hilfen für Landwirte an, die unter der Dürre leiden.",
        "Der UN-Generalsekretär rief alle Seiten auf, die Zivilbevölkerung zu schützen.",
        "Vertreter der bewaffneten Opposition verließen den Saal, ohne zu unterschreiben.",
        "Die Gespräche sollen zwei Tage dauern, sagte ein Sprecher des Außenministeriums.",
        "Die Türkei und Russland streiten darüber, welche Gruppen die Waffenruhe umfasst.",
        "Die iranische Delegation betonte die Einheit Syriens.",
        "UNICEF zufolge brauchen tausende Kinder in Aleppo dringend medizinische Hilfe.",
        "Die nächste Runde in Genf leitet der Sondergesandte der Vereinten Nationen.",
        "Anwohner berichten, die Stromversorgung habe sich zuletzt verbessert.",
        "Der Präsident unterzeichnete ein Dekret zur Reform des Steuersystems.",
        "Forscher entdeckten in den Bergen im Süden eine neue Froschart.",
        "Die Nationalmannschaft bestreitet vor dem Turnier zwei Testspiele.",
        "Die Autobahn war nach einem Unfall mehrere Stunden lang gesperrt.",
        "Die Getreideexporte stiegen im Jahresvergleich um zwölf Prozent.",
        "Der Oppositionsführer sagte, das Wahlergebnis spiegle nicht den Willen der Wähler.",
        "Das Festival zog an drei Tagen mehr als fünfzigtausend Besucher an.",
        "Der Bürgermeister versprach bis Jahresende zehn neue Kindergärten.",
        "Die Unterhändler arbeiteten bis tief in die Nacht an der Abschlusserklärung.",
    ),
    "tr": (
        "Rusya, Türkiye ve İran heyetleri Astana'da yeni tur görüşmeler için bir araya geldi.",
        "BM Suriye Özel Temsilcisi ateşkesin büyük ölçüde korunduğunu söyledi.",
        "Astana'da varılan anlaşmaya rağmen İdlib yakınlarında çatışmalar sürdü.",
        "BM Güvenlik Konseyi cuma günü Halep'teki insani durumu görüşecek.",
        "Yardım konvoyları haftalar süren müzakerelerin ardından kente ulaştı.",
        "Suriyeli muhalefet görüşmelere daha küçük bir heyet göndereceğini açıkladı.",
        "Şam yönetimi yeni çatışmasızlık bölgeleri önerisini memnuniyetle karşıladı.",
        "UNHCR'ye göre beş milyondan fazla Suriyeli ülkeden kaçtı.",
        "Garantör ülkeler ateşkesi izlemek için ortak bir grup kurma konusunda anlaştı.",
        "Uzmanlar Astana sürecinin Moskova'ya diplomaside öncü bir rol verdiğini söylüyor.",
        "Merkez bankası faiz oranlarını üst üste üçüncü ay sabit bıraktı.",
        "Şiddetli yağmur pazartesi günü başkentin birçok ilçesinde sele yol açtı.",
        "Belediye meclisi toplu taşıma ve yol onarımı için yeni bütçeyi onayladı.",
        "Teknoloji şirketlerinin hisseleri güçlü bilançoların ardından sert yükseldi.",
        "FC Astana eleme maçında rakibini ikiye bir yendi.",
        "Bakan yeni yasanın küçük işletmelerin kurulmasını kolaylaştıracağını söyledi.",
        "Birçok ilde öğretmenler maaşlar nedeniyle greve gitti.",
        "Ulusal müzede cumartesi günü çağdaş sanat sergisi açıldı.",
        "Polis meclis önündeki eylemin ardından üç kişinin gözaltına alındığını açıkladı.",
        "Şirket yeni bir fabrika kurmayı ve sekiz yüz kişiyi işe almayı planlıyor.",
        "Petrol fiyatları üretimin artacağı haberlerinin ardından geriledi.",
        "Doktorlar grip sezonunun bu yıl erken başlayabileceği uyarısında bulundu.",
        "Hükümet kuraklıktan etkilenen çiftçilere destek programı açıkladı.",
        "BM Genel Sekreteri tüm tarafları sivilleri korumaya çağırdı.",
        "Silahlı muhalefetin temsilcileri belgeyi imzalamadan salonu terk etti.",
        "Dışişleri sözcüsü görüşmelerin iki gün süreceğini söyledi.",
        "Türkiye ve Rusya ateşkesin hangi grupları kapsadığı konusunda anlaşamadı.",
        "İran heyeti garantörlerin Suriye'nin birliğine bağlı olduğunu vurguladı.",
        "UNICEF doğu Halep'teki binlerce çocuğun acil tıbbi bakıma ihtiyaç duyduğunu belirtti.",
        "Cenevre'deki bir sonraki müzakere turuna BM temsilcisi başkanlık edecek.",
        "Bölge sakinleri son haftalarda elektriğin daha düzenli verildiğini söylüyor.",
        "Cumhurbaşkanı vergi sisteminin reformuna ilişkin kararnameyi imzaladı.",
        "Bilim insanları güneydeki dağlarda yeni bir kurbağa türü keşfetti.",
        "Milli takım turnuva öncesinde iki hazırlık maçı oynayacak.",
        "Otoyolda meydana gelen kaza nedeniyle trafik saatlerce kapalı kaldı.",
        "Tahıl ihracatı geçen yılın aynı dönemine göre yüzde on iki arttı.",
        "Muhalefet lideri seçim sonuçlarının seçmen iradesini yansıtmadığını söyledi.",
        "Festival üç günde elli binden fazla ziyaretçi çekti.",
        "Belediye başkanı yıl sonuna kadar on yeni kreş açma sözü verdi.",
        "Müzakereciler nihai bildirinin metni üzerinde gece geç saatlere kadar çalıştı.",
    ),
    "ar": (
        "اجتمعت وفود روسيا وتركيا وإيران في أستانا لجولة جديدة من المحادثات حول سوريا.",
        "قال المبعوث الأممي إن وقف إطلاق النار في سوريا صامد في معظم المناطق.",
        "استمرت الاشتباكات قرب إدلب رغم الاتفاق الذي تم التوصل إليه في أستانا.",
        "يناقش مجلس الأمن يوم الجمعة الوضع الإنساني في حلب.",
        "وصلت قوافل المساعدات إلى المدينة المحاصرة بعد أسابيع من المفاوضات.",
        "أعلنت المعارضة السورية أنها سترسل وفدا أصغر إلى المحادثات.",
        "رحبت دمشق باقتراح إنشاء مناطق جديدة لخفض التصعيد.",
        "قالت المفوضية إن أكثر من خمسة ملايين سوري فروا من البلاد.",
        "اتفقت الدول الضامنة على تشكيل مجموعة مشتركة لمراقبة الهدنة.",
        "يرى محللون أن مسار أستانا منح موسكو دورا قياديا في الدبلوماسية.",
        "أبقى البنك المركزي أسعار الفائدة دون تغيير للشهر الثالث على التوالي.",
        "تسببت الأمطار الغزيرة في فيضانات في عدة أحياء من العاصمة يوم الاثنين.",
        "وافق المجلس البلدي على ميزانية جديدة للنقل العام وصيانة الطرق.",
        "ارتفعت أسهم شركات التكنولوجيا بقوة بعد نتائج فصلية قوية.",
        "قال الوزير إن القانون الجديد سيسهل تسجيل الشركات الصغيرة.",
        "أضرب المعلمون في عدة مناطق احتجاجا على الأجور وظروف العمل.",
        "افتتح معرض للفن المعاصر في المتحف الوطني يوم السبت.",
        "قالت الشرطة إنها اعتقلت ثلاثة أشخاص بعد احتجاج أمام البرلمان.",
        "تخطط الشركة لبناء مصنع جديد وتوظيف نحو ثمانمئة عامل.",
        "تراجعت أسعار النفط بعد تقارير عن زيادة الإنتاج الشهر المقبل.",
        "حذر الأطباء من أن موسم الإنفلونزا قد يبدأ مبكرا هذا العام.",
        "أعلنت الحكومة برنامجا لدعم المزارعين المتضررين من الجفاف.",
        "دعا الأمين العام للأمم المتحدة جميع الأطراف إلى حماية المدنيين.",
        "غادر ممثلو المعارضة المسلحة القاعة دون التوقيع على الوثيقة.",
        "قال متحدث باسم وزارة الخارجية إن المحادثات ستستمر يومين.",
        "اختلفت تركيا وروسيا حول الجماعات التي تشملها الهدنة.",
        "أكد الوفد الإيراني التزام الدول الضامنة بوحدة سوريا.",
        "قالت اليونيسف إن آلاف الأطفال في شرق حلب بحاجة إلى رعاية طبية عاجلة.",
        "سيترأس المبعوث الأممي الجولة المقبلة من المفاوضات في جنيف.",
        "يقول السكان إن إمدادات الكهرباء تحسنت في الأسابيع الأخيرة.",
        "وقع الرئيس مرسوما بشأن إصلاح النظام الضريبي.",
        "اكتشف علماء نوعا جديدا من الضفادع في جبال الجنوب.",
        "سيخوض المنتخب الوطني مباراتين وديتين قبل البطولة.",
        "أغلق الطريق السريع لعدة ساعات بعد حادث سير.",
        "ارتفعت صادرات الحبوب بنسبة اثني عشر في المئة مقارنة بالعام الماضي.",
        "قال زعيم المعارضة إن نتائج الانتخابات لا تعكس إرادة الناخبين.",
        "استقطب المهرجان أكثر من خمسين ألف زائر خلال ثلاثة أيام.",
        "وعد رئيس البلدية بافتتاح عشر رياض أطفال جديدة بحلول نهاية العام.",
        "عمل المفاوضون حتى وقت متأخر من الليل على نص البيان الختامي.",
        "تبادلت الحكومة السورية والمعارضة الأسرى بموجب اتفاق أستانا.",
    ),
    "kk": (
        "Ресей, Түркия және Иран делегациялары Астанада Сирия бойынша келіссөздер өткізді.",
        "БҰҰ арнайы өкілі Сириядағы бітімнің негізінен сақталып отырғанын айтты.",
        "Астанада жасалған келісімге қарамастан Идлиб маңында шайқастар жалғасты.",
        "БҰҰ Қауіпсіздік Кеңесі жұма күні Алепподағы гуманитарлық ахуалды талқылайды.",
        "Гуманитарлық көмек колонналары апталық келіссөздерден кейін қалаға жетті.",
        "Сирия оппозициясы келіссөздерге шағын делегация жіберетінін мәлімдеді.",
        "Дамаск шиеленісті төмендету аймақтарын құру туралы ұсынысты құптады.",
        "БҰҰ деректері бойынша бес миллионнан астам сириялық елден кетті.",
        "Кепілгер елдер бітімді бақылау үшін бірлескен топ құруға келісті.",
        "Сарапшылар Астана процесі Мәскеуге дипломатияда жетекші рөл бергенін айтады.",
        "Ұлттық банк базалық мөлшерлемені қатарынан үшінші ай өзгеріссіз қалдырды.",
        "Дүйсенбі күні қатты жаңбыр елорданың бірнеше ауданында су тасқынын тудырды.",
        "Қалалық мәслихат қоғамдық көлік пен жол жөндеуге арналған бюджетті бекітті.",
        "Технология компанияларының акциялары тоқсандық есептерден кейін күрт өсті.",
        "Астана ФК іріктеу матчында қарсыласын екі де бір есебімен жеңді.",
        "Министр жаңа заң шағын бизнесті тіркеуді жеңілдететінін айтты.",
        "Бірнеше өңірде мұғалімдер жалақыға байланысты ереуілге шықты.",
        "Сенбі күні ұлттық музейде заманауи өнер көрмесі ашылды.",
        "Полиция парламент алдындағы акциядан кейін үш адамды ұстағанын хабарлады.",
        "Компания жаңа зауыт салып, сегіз жүзге жуық қызметкер жалдауды жоспарлап отыр.",
        "Өндіріс артады деген хабарлардан кейін мұнай бағасы төмендеді.",
        "Дәрігерлер биыл тұмау маусымы ертерек басталуы мүмкін екенін ескертті.",
        "Үкімет құрғақшылықтан зардап шеккен фермерлерді қолдау бағдарламасын жариялады.",
        "БҰҰ Бас хатшысы барлық тараптарды бейбіт тұрғындарды қорғауға шақырды.",
        "Қарулы оппозиция өкілдері құжатқа қол қоймай залдан шығып кетті.",
        "Сыртқы істер министрлігінің өкілі келіссөздер екі күнге созылатынын айтты.",
        "Түркия мен Ресей бітім қандай топтарға қатысты екені жөнінде келісе алмады.",
        "Иран делегациясы кепілгерлердің Сирия тұтастығын қолдайтынын атап өтті.",
        "ЮНИСЕФ шығыс Алепподағы мыңдаған балаға шұғыл көмек қажет екенін айтты.",
        "Женевадағы келесі келіссөздер раундын БҰҰ арнайы өкілі басқарады.",
        "Тұрғындар соңғы апталарда электр қуаты тұрақты беріле бастағанын айтады.",
        "Президент салық жүйесін реформалау туралы жарлыққа қол қойды.",
        "Ғалымдар оңтүстіктегі тауларда бақаның жаңа түрін тапты.",
        "Ұлттық құрама турнир алдында екі жолдас кездесу өткізеді.",
        "Жол апатынан кейін тасжолдағы қозғалыс бірнеше сағатқа жабылды.",
        "Астық экспорты өткен жылмен салыстырғанда он екі пайызға өсті.",
        "Оппозиция жетекшісі сайлау нәтижелері сайлаушылардың еркін көрсетпейді деді.",
        "Фестивальға үш күнде елу мыңнан астам адам келді.",
        "Қала әкімі жыл соңына дейін он жаңа балабақша ашуға уәде берді.",
        "Келіссөз жүргізушілер қорытынды мәлімдеме мәтінімен түн ортасына дейін жұмыс істеді.",
    ),
}

SHARE_LABELS = ("Facebook", "Twitter", "Telegram", "WhatsApp", "VK", "E-mail")
STYLE = (
    "<style>.share{display:flex;gap:8px;margin:12px 0}.share a{color:#333;"
    "text-decoration:none}.article p{line-height:1.5}</style>"
)
SCRIPT = (
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments);}}"
    "gtag('js',new Date());var shareConfig={{id:'{id}',lang:'{lang}'}};"
    "if(window.innerWidth<600&&shareConfig){{document.body.className+=' m';}}</script>"
)
ENTITY_JOINS = (" &mdash; ", " &ndash; ", " &#8212; ", "&nbsp;", " &amp; ")


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    lang: str  # the language the generator wrote it in
    title: str
    html: str


@dataclass
class Checkpoint:
    name: str
    rss_mb: float
    hwm_mb: float


@dataclass
class SystemResult:
    name: str
    version: str
    available: bool
    load_seconds: float = 0.0
    pass_seconds: list[float] = field(default_factory=list)  # wall clock (perf_counter)
    pass_cpu_seconds: list[float] = field(default_factory=list)  # this process (process_time)
    stages: dict[str, list[float]] = field(default_factory=dict)  # CPU seconds per pass
    checks: dict[str, Any] = field(default_factory=dict)
    isolated_rss_mb: float | None = None
    note: str = ""

    def rates(self, articles: int) -> list[float]:
        return [articles / s for s in self.pass_seconds]

    def cpu_rates(self, articles: int) -> list[float]:
        return [articles / s for s in self.pass_cpu_seconds]


# ---------------------------------------------------------------------------------------------
# Input


def _linked(sentence: str, rng: random.Random, lang: str) -> str:
    words = html.escape(sentence, quote=False).split(" ")
    if len(words) < 5:
        return " ".join(words)
    start = rng.randrange(0, len(words) - 3)
    href = f"https://news.example/{lang}/{rng.randrange(10**6)}?utm_source=rss"
    words[start] = f'<a href="{href}">{words[start]}'
    words[start + 2] = f"{words[start + 2]}</a>"
    return " ".join(words)


def _paragraph(rng: random.Random, lang: str) -> str:
    pool = SENTENCES[lang]
    parts = []
    for _ in range(rng.randint(2, 3)):
        sentence = rng.choice(pool)
        roll = rng.random()
        if roll < 0.25:
            parts.append(_linked(sentence, rng, lang))
        elif roll < 0.4:
            parts.append(f"<strong>{html.escape(sentence, quote=False)}</strong>")
        elif roll < 0.55:
            parts.append(f"&laquo;{html.escape(sentence[:-1], quote=False)}&raquo;.")
        else:
            parts.append(html.escape(sentence, quote=False))
    return "<p>" + rng.choice(ENTITY_JOINS).join(parts) + "</p>"


def make_article(index: int, lang: str, rng: random.Random, size: int = 2048) -> Article:
    """One ~`size`-byte HTML news article: style, script, paragraphs, links, entities, a
    share-buttons block; sentences drawn from `SENTENCES[lang]`."""
    article_id = f"bench-{index:05d}"
    words = rng.choice(SENTENCES[lang]).rstrip(".").split(" ")
    title = " ".join(words[: rng.randint(6, 12)])
    if rng.random() < 0.2:
        title = html.escape(title) + " &mdash; " + ("LIVE" if lang != "ru" else "онлайн")
    share = "".join(
        f'<a class="share-{label.lower()}" href="https://share.example/{label.lower()}'
        f'?u=https%3A%2F%2Fnews.example%2F{article_id}&amp;t=1">{label}</a>'
        for label in SHARE_LABELS
    )
    head = STYLE + SCRIPT.format(id=article_id, lang=lang) + '<div class="article">'
    tail = (
        f'</div><div class="share-buttons share">{share}'
        '<button>Copy link</button><span class="count">'
        f"{rng.randrange(10, 9999)}</span></div>"
    )
    body: list[str] = []
    if rng.random() < 0.5:
        body.append(f"<h2>{html.escape(rng.choice(SENTENCES[lang]).rstrip('.'))}</h2>")
    while len((head + "".join(body) + tail).encode()) < size - 150:
        body.append(_paragraph(rng, lang))
        if rng.random() < 0.1:
            body.append("<br>")
    return Article(article_id, lang, title, head + "".join(body) + tail)


def make_articles(count: int, seed: int = SEED) -> list[Article]:
    """`count` deterministic articles in a fixed language mix (see LANG_WEIGHTS)."""
    rng = random.Random(seed)
    langs = list(LANG_WEIGHTS)
    weights = list(LANG_WEIGHTS.values())
    return [make_article(i, rng.choices(langs, weights)[0], rng) for i in range(count)]


# ---------------------------------------------------------------------------------------------
# Process measurements


def proc_status() -> dict[str, float]:
    """VmRSS and VmHWM of this process in MB (from /proc/self/status)."""
    found: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return found


def checkpoint(name: str, checkpoints: list[Checkpoint]) -> None:
    status = proc_status()
    checkpoints.append(Checkpoint(name, status.get("VmRSS", 0.0), status.get("VmHWM", 0.0)))


def pin_one_core() -> int | None:
    """Pin this process to one CPU (the last one allowed); None where not supported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def loadavg() -> str:
    """The 1-minute load average (other work on the machine shows here)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def code_fingerprint() -> dict[str, str]:
    """sha256 (first 12 hex digits) of mediamon's enrich code and taxonomy as measured: the
    repository changes while people work, and the numbers belong to one state of it."""
    import hashlib

    files = sorted((REPO / "pipeline" / "stages").glob("*.py"))
    files += sorted((REPO / "pipeline" / "taxonomy").glob("*"))
    return {
        str(f.relative_to(REPO)): hashlib.sha256(f.read_bytes()).hexdigest()[:12]
        for f in files
        if f.is_file()
    }


def machine() -> dict[str, Any]:
    mem_gb = 0.0
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            mem_gb = int(meminfo.readline().split()[1]) / 1024 / 1024
    except OSError:
        pass
    cpu_model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gb": round(mem_gb, 1),
    }


# ---------------------------------------------------------------------------------------------
# The systems: each loader returns a factory of per-pass runners (called outside the timing)

Runner = Callable[[Any], Any]


def load_mediamon(articles: Sequence[Article]) -> tuple[Callable[[], Runner], list[Any]]:
    """Import mediamon, build its inputs (RawArticle records, outside the timing) and return
    a factory: a fresh Enricher per pass, so the story index starts empty every pass."""
    from pipeline.schema import RawArticle
    from pipeline.stages.enrich import Enricher

    raws = [RawArticle(id=a.id, title=a.title, content_html=a.html) for a in articles]

    def factory() -> Runner:
        return Enricher.from_path().enrich

    return factory, raws


def load_peer(articles: Sequence[Article]) -> tuple[Callable[[], Runner], list[Any]]:
    """Import mcmetadata (offline-safe) and return a factory of its strip-and-detect step."""
    import tempfile

    # tldextract (imported by mcmetadata.urls) fetches the Public Suffix List on first use:
    # keep its cache out of $HOME and make it use the snapshot bundled in the wheel.
    cache = Path(tempfile.gettempdir()) / "mediamon-bench-tldextract"
    os.environ.setdefault("TLDEXTRACT_CACHE", str(cache))
    importlib.import_module("mcmetadata")  # first, so that a missing peer is named as such
    import tldextract.tldextract
    from mcmetadata import languages
    from mcmetadata import text as mc_text

    strip_tags: Callable[[str], str] = mc_text.strip_tags  # untyped in mcmetadata
    tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls = ()

    def run(article: Article) -> tuple[str | None, str]:
        title = strip_tags(article.title)
        text = strip_tags(article.html)
        return languages.from_html(article.html, f"{title}\n\n{text}"), text

    def factory() -> Runner:
        return run

    return factory, list(articles)


def timed_pass(runner: Runner, inputs: Sequence[Any]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one pass of `runner` over `inputs`."""
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    for item in inputs:
        runner(item)
    return time.perf_counter() - start, time.process_time() - cpu


def time_stages(stages: dict[str, Callable[[], None]], passes: int) -> dict[str, list[float]]:
    """CPU seconds per pass of each stage (process_time: a busy neighbour on the machine
    slows the wall clock, much less the CPU time)."""
    timings: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(passes):
        for name, stage in stages.items():
            gc.collect()
            start = time.process_time()
            stage()
            timings[name].append(time.process_time() - start)
    return timings


def mediamon_stages(raws: Sequence[Any], passes: int) -> dict[str, list[float]]:
    """Seconds per pass of each stage function of `Enricher.enrich`, called directly on the
    same inputs in the same order. Stages that cannot be imported are left out."""
    from pipeline.schema import MAX_TEXT
    from pipeline.stages.clean import html_to_text
    from pipeline.stages.enrich import Enricher
    from pipeline.stages.language import detect_language
    from pipeline.stages.tagging import Tagger
    from pipeline.taxonomy import cached_taxonomy

    # The Enricher's own tagger: same (cached) taxonomy as the timed passes.
    tagger = getattr(Enricher.from_path(), "tagger", None) or Tagger(cached_taxonomy(None))
    titles = [html_to_text(r.title, max_chars=1_000).replace("\n", " ") for r in raws]
    bodies = [html_to_text(r.content_html, max_chars=MAX_TEXT) for r in raws]
    fulls = [f"{t}\n\n{b}".strip() for t, b in zip(titles, bodies, strict=True)]
    langs = [detect_language(f).lang for f in fulls]
    cases = list(zip(titles, bodies, langs, strict=True))

    def clean() -> None:
        for r in raws:
            html_to_text(r.title, max_chars=1_000).replace("\n", " ")
            html_to_text(r.content_html, max_chars=MAX_TEXT)

    def detect() -> None:
        for f in fulls:
            detect_language(f)

    def tag() -> None:
        for title, body, lang in cases:
            tagger.tag(title, body, lang)

    stages: dict[str, Callable[[], None]] = {
        "html_to_text (clean.py)": clean,
        "detect_language (language.py)": detect,
        "Tagger.tag (tagging.py)": tag,
    }
    try:
        from pipeline.stages.dedupe import simhash

        def fingerprint() -> None:
            for f in fulls:
                simhash(f)

        stages["simhash (dedupe.py)"] = fingerprint
    except ImportError:
        pass
    return time_stages(stages, passes)


def peer_stages(articles: Sequence[Article], passes: int) -> dict[str, list[float]]:
    from mcmetadata import languages
    from mcmetadata import text as mc_text

    strip_tags: Callable[[str], str] = mc_text.strip_tags
    texts = [f"{strip_tags(a.title)}\n\n{strip_tags(a.html)}" for a in articles]

    def strip() -> None:
        for a in articles:
            strip_tags(a.title)
            strip_tags(a.html)

    def detect() -> None:
        for a, text in zip(articles, texts, strict=True):
            languages.from_html(a.html, text)

    stages = {"strip_tags (text.py)": strip, "languages.from_html (languages.py)": detect}
    return time_stages(stages, passes)


def output_checks(
    articles: Sequence[Article], outputs: Sequence[tuple[str | None, str]]
) -> dict[str, Any]:
    """How the outputs look: language = generator label, script/style text left, entities."""
    right = sum(1 for a, (lang, _) in zip(articles, outputs, strict=True) if lang == a.lang)
    leaked = sum(1 for _, text in outputs if any(m in text for m in SCRIPT_MARKERS))
    entities = sum(1 for _, text in outputs if "&laquo;" in text or "&mdash;" in text)
    return {
        "lang_correct": right,
        "script_or_style_in_text": leaked,
        "raw_entities_in_text": entities,
        "mean_text_chars": round(statistics.fmean(len(t) for _, t in outputs), 1),
    }


def isolated_rss(system: str, articles: int) -> float | None:
    """RSS (MB) of a fresh process that loads only `system` and warms it up."""
    cmd = [sys.executable, __file__, "--articles", str(articles), "--load-only", system]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
        return float(json.loads(done.stdout.strip().splitlines()[-1])["rss_mb"])
    except (subprocess.SubprocessError, ValueError, KeyError, IndexError):
        return None


def load_only(system: str, count: int) -> None:
    """Child process of `isolated_rss`: build the input, load one system, warm it up."""
    articles = make_articles(count)
    before = proc_status().get("VmRSS", 0.0)
    loader = load_mediamon if system == "mediamon" else load_peer
    factory, inputs = loader(articles)
    runner = factory()
    for item in inputs[:WARMUP]:
        runner(item)
    after = proc_status().get("VmRSS", 0.0)
    print(json.dumps({"rss_mb": round(after - before, 1), "total_mb": round(after, 1)}))


# ---------------------------------------------------------------------------------------------
# Report


def _median_rate(result: SystemResult, articles: int, cpu: bool = False) -> float:
    rates = result.cpu_rates(articles) if cpu else result.rates(articles)
    return statistics.median(rates) if rates else 0.0


def _ratio(results: list[SystemResult], articles: int, cpu: bool = False) -> float | None:
    mm, peer = results
    if not (peer.available and peer.pass_seconds):
        return None
    return _median_rate(mm, articles, cpu) / _median_rate(peer, articles, cpu)


def _system_rows(data: dict[str, Any], results: list[SystemResult]) -> list[str]:
    n = data["articles"]
    lines = [
        "| system | articles/s wall (median) | min | max | articles/s CPU time (median) "
        "| ms/article wall | load + warm-up (s) | RSS added by loading (MB) "
        "| RSS alone, fresh process (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if not r.available:
            lines.append(f"| {r.name} | missing: {r.note} | | | | | | | |")
            continue
        rates = r.rates(n)
        median = statistics.median(rates)
        alone = f"{r.isolated_rss_mb:.1f}" if r.isolated_rss_mb is not None else "n/a"
        lines.append(
            f"| {r.name} {r.version} | **{median:,.0f}** | {min(rates):,.0f} | {max(rates):,.0f} "
            f"| {_median_rate(r, n, cpu=True):,.0f} | {1000 / median:.2f} "
            f"| {r.load_seconds:.2f} | {data['rss_added'][r.name]:.1f} | {alone} |"
        )
    return lines


def _stage_rows(data: dict[str, Any], results: list[SystemResult]) -> list[str]:
    n = data["articles"]
    lines: list[str] = []
    for r in results:
        if not r.stages:
            continue
        total = statistics.median(r.pass_cpu_seconds)
        lines += [
            "",
            f"| {r.name}: stage, called alone on the same inputs | CPU µs/article (median) "
            "| share of the full step |",
            "| --- | ---: | ---: |",
        ]
        accounted = 0.0
        for name, seconds in r.stages.items():
            med = statistics.median(seconds)
            accounted += med
            lines.append(f"| {name} | {med / n * 1e6:,.0f} | {med / total:.0%} |")
        rest = total - accounted
        what = "record, URL, story index" if r.name == "mediamon" else "glue"
        lines.append(
            f"| rest: {what}; stages run slower interleaved than alone "
            f"| {rest / n * 1e6:,.0f} | {rest / total:.0%} |"
        )
        lines.append(f"| full step (timed passes, CPU time) | {total / n * 1e6:,.0f} | 100% |")
    return lines


def report(data: dict[str, Any], results: list[SystemResult]) -> str:
    """The Markdown report: throughput, memory, stage split, output checks, targets."""
    n = data["articles"]
    mach = data["machine"]
    pinned = f"pinned to CPU {data['cpu']}" if data["cpu"] is not None else "not pinned"
    lines = [
        f"## Enrich benchmark: {n:,} articles (mean {data['mean_html_bytes']:,.0f} B of HTML), "
        f"{data['passes']} passes, one process, {pinned}",
        "",
        f"{mach['platform']}, {mach['cpus']} CPUs ({mach['cpu_model']}), "
        f"{mach['memory_gb']} GB, Python {mach['python']}; load average before / after: "
        f"{data['loadavg_before']} / {data['loadavg_after']}; languages: {data['lang_mix']}",
        "",
        *_system_rows(data, results),
    ]
    if data["code_changed_during_run"]:
        lines += ["", "**Warning: mediamon's enrich code changed on disk during this run.**"]
    ratio, ratio_cpu = _ratio(results, n), _ratio(results, n, cpu=True)
    if ratio is not None and ratio_cpu is not None:
        lines += [
            "",
            f"Ratio mediamon / peer: **{ratio:.2f}×** (median wall-clock articles/s), "
            f"{ratio_cpu:.2f}× (CPU time)",
        ]
    lines += ["", "| memory checkpoint | VmRSS (MB) | VmHWM (MB) |", "| --- | ---: | ---: |"]
    lines += [f"| {c.name} | {c.rss_mb:.1f} | {c.hwm_mb:.1f} |" for c in data["checkpoints"]]
    lines += _stage_rows(data, results)
    lines += [
        "",
        "| output check (one pass, all articles) | lang = generator's | script/style text left "
        "| undecoded entities | mean text chars | with topics |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if r.checks:
            c = r.checks
            lines.append(
                f"| {r.name} | {c['lang_correct']}/{n} | {c['script_or_style_in_text']} "
                f"| {c['raw_entities_in_text']} | {c['mean_text_chars']:,.0f} "
                f"| {c.get('articles_with_topics', 'n/a')} |"
            )
    rate = _median_rate(results[0], n)
    ratio_text = f"{ratio:.2f}×" if ratio is not None else "n/a (peer missing)"
    ratio_met = "n/a" if ratio is None else ("yes" if ratio >= TARGET_RATIO else "**no**")
    lines += [
        "",
        "| target | measured (wall clock, median) | met |",
        "| --- | ---: | --- |",
        f"| mediamon ≥ {TARGET_RATE:,.0f} articles/s on one core | {rate:,.0f} "
        f"| {'yes' if rate >= TARGET_RATE else '**no**'} |",
        f"| mediamon ≥ {TARGET_RATIO:.0f}× the peer | {ratio_text} | {ratio_met} |",
    ]
    return "\n".join(lines)


def as_json(data: dict[str, Any], results: list[SystemResult]) -> str:
    """Everything measured, raw per-pass seconds included."""
    n = data["articles"]
    out = dict(data)
    out["checkpoints"] = [vars(c) for c in data["checkpoints"]]
    out["systems"] = []
    for r in results:
        entry = vars(r).copy()
        for key, rates in (("articles_per_s", r.rates(n)), ("cpu_articles_per_s", r.cpu_rates(n))):
            if rates:
                entry[key] = {
                    "median": statistics.median(rates),
                    "min": min(rates),
                    "max": max(rates),
                }
        out["systems"].append(entry)
    out["ratio_mediamon_to_peer"] = _ratio(results, n)
    out["ratio_mediamon_to_peer_cpu"] = _ratio(results, n, cpu=True)
    out["targets"] = {"mediamon_articles_per_s": TARGET_RATE, "ratio": TARGET_RATIO}
    return json.dumps(out, indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Main


def run(count: int, passes: int, pin: bool, isolated: bool) -> tuple[dict[str, Any], list[Any]]:
    cpu = pin_one_core() if pin else None
    loadavg_before = loadavg()
    code = code_fingerprint()
    checkpoints: list[Checkpoint] = []
    checkpoint("start (interpreter, script)", checkpoints)
    articles = make_articles(count)
    checkpoint("input built, before loading", checkpoints)

    mm = SystemResult("mediamon", version_of("mediamon"), True)
    peer = SystemResult("mcmetadata", version_of("mediacloud-metadata"), True)
    runners: dict[str, tuple[Callable[[], Runner], list[Any], SystemResult]] = {}
    rss_added: dict[str, float] = {}
    for result, loader in ((mm, load_mediamon), (peer, load_peer)):
        before = proc_status().get("VmRSS", 0.0)
        start = time.perf_counter()
        try:
            factory, inputs = loader(articles)
        except ImportError as exc:
            if result is mm:
                raise
            missing = exc.name or str(exc)
            result.available, result.note = False, f"`{missing}` not importable (not installed)"
            continue
        runner = factory()
        for item in inputs[:WARMUP]:
            runner(item)
        result.load_seconds = time.perf_counter() - start
        checkpoint(
            f"after loading {result.name} (import, models, warm-up on {WARMUP})", checkpoints
        )
        rss_added[result.name] = checkpoints[-1].rss_mb - before
        runners[result.name] = (factory, inputs, result)

    for _ in range(passes):  # alternate, so drifts in machine speed hit both alike
        for factory, inputs, result in runners.values():
            wall, cpu_seconds = timed_pass(factory(), inputs)
            result.pass_seconds.append(wall)
            result.pass_cpu_seconds.append(cpu_seconds)
    checkpoint(f"after {passes} timed passes", checkpoints)

    mm.stages = mediamon_stages(runners["mediamon"][1], passes)
    enricher = runners["mediamon"][0]()
    enriched = [enricher(raw) for raw in runners["mediamon"][1]]
    mm.checks = output_checks(articles, [(e.lang, e.text) for e in enriched])
    mm.checks["articles_with_topics"] = sum(1 for e in enriched if e.topics)
    if peer.available:
        peer.stages = peer_stages(articles, passes)
        peer_run = runners["mcmetadata"][0]()
        peer.checks = output_checks(articles, [peer_run(a) for a in articles])
    checkpoint("end (stage split and output checks done)", checkpoints)

    if isolated:
        mm.isolated_rss_mb = isolated_rss("mediamon", count)
        if peer.available:
            peer.isolated_rss_mb = isolated_rss("mcmetadata", count)

    data: dict[str, Any] = {
        "articles": count,
        "passes": passes,
        "warmup": WARMUP,
        "seed": SEED,
        "cpu": cpu,
        "loadavg_before": loadavg_before,
        "loadavg_after": loadavg(),
        "mean_html_bytes": statistics.fmean(len(a.html.encode()) for a in articles),
        "lang_mix": ", ".join(
            f"{lang} {sum(1 for a in articles if a.lang == lang)}" for lang in LANG_WEIGHTS
        ),
        "machine": machine(),
        "versions": {
            name: version_of(name)
            for name in (
                "mediamon",
                "selectolax",
                "py3langid",
                "pymorphy3",
                "PyStemmer",
                "numpy",
                "pydantic",
                "mediacloud-metadata",
                "tldextract",
            )
        },
        "checkpoints": checkpoints,
        "rss_added": rss_added,
        "code_sha256": code,
        "code_changed_during_run": code != code_fingerprint(),
    }
    return data, [mm, peer]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--save-json", type=Path, help="also write the JSON report to this file")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    parser.add_argument(
        "--no-isolated", action="store_true", help="skip the fresh-process RSS measurement"
    )
    parser.add_argument("--load-only", choices=("mediamon", "mcmetadata"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_only:
        load_only(args.load_only, args.articles)
        return 0
    if args.articles < WARMUP or args.passes < 1:
        parser.error(f"--articles must be at least {WARMUP} and --passes at least 1")
    data, results = run(args.articles, args.passes, not args.no_pin, not args.no_isolated)
    if args.save_json:
        args.save_json.write_text(as_json(data, results) + "\n", encoding="utf-8")
    print(as_json(data, results) if args.json else report(data, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
