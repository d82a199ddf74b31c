"""Neutral word lists and sentence templates for simulated text, in several scripts.

Everything here is deliberately bland (weather, books, food, sport): the simulator must
never produce persuasive content, only text with the statistical shape of real posts
(languages, scripts, lengths, hashtags) so that readers and detectors are exercised.
"""

from __future__ import annotations

LANGUAGES = ("en", "fa", "ar", "ru", "es", "de")
# Share of organic accounts per language.
LANGUAGE_WEIGHTS = (0.45, 0.15, 0.12, 0.1, 0.1, 0.08)

SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "Good morning from {city}",
        "The weather in {city} is {adj} today",
        "Just finished a {adj} book about {topic}",
        "Reading about {topic} this afternoon",
        "What do you think about {topic}?",
        "Lunch was {adj} today",
        "Heading to {city} next week",
        "The match last night was {adj}",
        "New photos from the {topic} exhibition",
        "Trying a {adj} recipe for dinner",
    ),
    "fa": (
        "صبح بخیر از {city}",
        "امروز هوا در {city} خوب است",
        "کتاب جدیدی درباره {topic} خواندم",
        "چای می‌نوشم و اخبار {topic} را می‌خوانم",
        "نظر شما درباره {topic} چیست؟",
        "هفته بعد به {city} می‌روم",
        "بازی دیشب دیدنی بود",
        "عکس‌های تازه از نمایشگاه {topic}",
    ),
    "ar": (
        "صباح الخير من {city}",
        "الطقس جميل اليوم في {city}",
        "قرأت كتابا جديدا عن {topic}",
        "أشرب القهوة وأقرأ عن {topic}",
        "ما رأيكم في {topic}؟",
        "سأسافر إلى {city} الأسبوع القادم",
        "كانت المباراة أمس رائعة",
        "صور جديدة من معرض {topic}",
    ),
    "ru": (
        "Доброе утро из города {city}",
        "Сегодня в городе {city} хорошая погода",
        "Прочитал книгу про {topic}",
        "Что вы думаете про {topic}?",
        "Вчерашний матч был отличный",
    ),
    "es": (
        "Buenos días desde {city}",
        "Hoy hace buen tiempo en {city}",
        "Terminé un libro sobre {topic}",
        "¿Qué opinan de {topic}?",
        "El partido de anoche fue {adj}",
    ),
    "de": (
        "Guten Morgen aus {city}",
        "Heute ist das Wetter in {city} {adj}",
        "Ein Buch über {topic} gelesen",
        "Was haltet ihr von {topic}?",
    ),
}

CITIES = (
    "Tirana",
    "Tehran",
    "Cairo",
    "Berlin",
    "Madrid",
    "Lagos",
    "Lima",
    "Oslo",
    "Kyiv",
    "Tunis",
    "Shiraz",
    "Amman",
    "Porto",
    "Quito",
    "Hanoi",
    "Dakar",
)
ADJECTIVES = ("nice", "great", "quiet", "busy", "sunny", "long", "short", "lovely", "calm")
TOPICS = (
    "gardening",
    "astronomy",
    "football",
    "cooking",
    "history",
    "music",
    "trains",
    "chess",
    "birds",
    "painting",
    "cycling",
    "coffee",
    "tea",
    "poetry",
    "architecture",
)
GENERIC_TAGS = (
    "football",
    "music",
    "books",
    "coffee",
    "travel",
    "photography",
    "chess",
    "art",
    "weather",
    "food",
    "فوتبال",
    "کتاب",
    "موسیقی",
    "قهوة",
    "كتب",
    "رياضة",
    "музыка",
    "libros",
)
NEWS_DOMAINS = (
    "news.example.com",
    "daily.example.org",
    "gazette.example.net",
    "wire.example.com",
    "khabar.example.ir",
    "akhbar.example.sa",
    "novosti.example.ru",
    "diario.example.es",
)

FIRST_NAMES = (
    "Ali",
    "Sara",
    "John",
    "Maria",
    "Reza",
    "Layla",
    "Omar",
    "Anna",
    "Hassan",
    "Elena",
    "Mina",
    "David",
    "Fatima",
    "Ivan",
    "Lucia",
    "Nima",
    "Yusuf",
    "Emma",
    "Karim",
    "Olga",
    "Parisa",
    "Tom",
    "Zahra",
    "Pablo",
    "Leila",
    "Mark",
    "Nadia",
    "Amir",
    "Sofia",
    "Ahmad",
)
LAST_NAMES = (
    "Smith",
    "Hosseini",
    "Garcia",
    "Haddad",
    "Ivanova",
    "Karimi",
    "Brown",
    "Rahimi",
    "Mansour",
    "Lopez",
    "Moradi",
    "Novak",
    "Ahmadi",
    "Schmidt",
    "Saleh",
    "Rossi",
)
BIO_PARTS = (
    "coffee lover",
    "dad of two",
    "runner",
    "amateur astronomer",
    "teacher",
    "engineer",
    "student",
    "nurse",
    "photographer",
    "bookworm",
    "gardener",
    "chess player",
    "عاشق کتاب",
    "معلم",
    "مهندس",
    "طالب",
    "مصور",
    "любитель книг",
    "músico",
    "Lehrerin",
)
LOCATIONS = (
    "London",
    "Tehran",
    "Cairo",
    "Berlin",
    "Madrid",
    "Paris",
    "Toronto",
    "Dubai",
    "Moscow",
    "",
    "",
    "",
    "Earth",
    "somewhere",
    "Tirana",
    "Istanbul",
)

# Copy-paste chains ("copy this to your status"): harmless texts of 12 words or more, so
# that a copied text is unmistakably the same text. Each fills in a city, an adjective and
# a topic, which makes thousands of distinct texts.
COPY_TEXTS = (
    "Copy and paste this to your status if you enjoy {topic} and a {adj} walk in {city}",
    "Put this on your page for one hour if {topic} made your week in {city} a bit {adj}",
    "I am copying this from a friend: share a {adj} memory of {topic} from your days in {city}",
    "Only real friends will copy this: a {adj} morning in {city} and some {topic} is all I need",
    "Copy this if you have ever spent a {adj} afternoon in {city} reading about {topic} with tea",
    "Paste this to your status if you think {topic} in {city} is {adj} and everyone should try it",
    "Share this on your wall if you remember your first {adj} day of {topic} lessons in {city}",
    "Copy and paste if you would rather spend a {adj} Sunday in {city} with {topic} than anywhere",
)
# What people add to a text they copy.
COPY_ENDINGS = ("🙂", "❤️", "🙏", "✨")

# Farm profile templates: the same words in every bio (public reporting on farms).
FARM_BIO_TEMPLATES = (
    "{name} | human rights | freedom",
    "human rights | freedom | {name}",
    "{name} - freedom - human rights activist",
)
FARM_SENTENCES: dict[str, tuple[str, ...]] = {
    # Neutral placeholders: the shape of a directive message, not its persuasion.
    "en": ("Statement number {n} about {topic} is now published",),
    "fa": ("بیانیه شماره {n} درباره {topic} منتشر شد",),
    "ar": ("تم نشر البيان رقم {n} حول {topic}",),
}
