package org.mediamon.analysis;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.StopFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.ru.RussianAnalyzer;
import org.apache.lucene.analysis.ru.RussianLightStemFilter;
import org.apache.lucene.analysis.standard.StandardTokenizer;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.AnalyzerFactory;

/**
 * Elasticsearch's built-in language analyzers, under their built-in names, for servers that
 * lack the analysis-common module (the integ-test-zip distribution used for local runs and
 * tests). Each is Lucene's analyzer with its default stop words and no stem exclusions, which
 * is what the built-in analyzer of the same name gives. Never install this next to
 * analysis-common: the names would clash, by design.
 */
public final class LanguageAnalyzers {
    private LanguageAnalyzers() {}

    @NamedComponent("arabic")
    public static final class Arabic implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new org.apache.lucene.analysis.ar.ArabicAnalyzer();
        }
    }

    @NamedComponent("bulgarian")
    public static final class Bulgarian implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new org.apache.lucene.analysis.bg.BulgarianAnalyzer();
        }
    }

    @NamedComponent("english")
    public static final class English implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new org.apache.lucene.analysis.en.EnglishAnalyzer();
        }
    }

    @NamedComponent("french")
    public static final class French implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new org.apache.lucene.analysis.fr.FrenchAnalyzer();
        }
    }

    @NamedComponent("german")
    public static final class German implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new org.apache.lucene.analysis.de.GermanAnalyzer();
        }
    }

    @NamedComponent("italian")
    public static final class Italian implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new org.apache.lucene.analysis.it.ItalianAnalyzer();
        }
    }

    @NamedComponent("persian")
    public static final class Persian implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new org.apache.lucene.analysis.fa.PersianAnalyzer();
        }
    }

    @NamedComponent("portuguese")
    public static final class Portuguese implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new org.apache.lucene.analysis.pt.PortugueseAnalyzer();
        }
    }

    @NamedComponent("russian")
    public static final class Russian implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new org.apache.lucene.analysis.ru.RussianAnalyzer();
        }
    }

    @NamedComponent("spanish")
    public static final class Spanish implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new org.apache.lucene.analysis.es.SpanishAnalyzer();
        }
    }

    @NamedComponent("turkish")
    public static final class Turkish implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new org.apache.lucene.analysis.tr.TurkishAnalyzer();
        }
    }

    /**
     * The chain the articles template defines as the custom analyzer mediamon_russian on a
     * full distribution (standard tokenizer, lowercase, _russian_ stop words, light_russian
     * stemmer). Snowball's Russian stemmer cuts "Астана" to "аста" but "Астане" to "астан",
     * so a search for the name misses its inflected forms; the light stemmer gives "астан"
     * for all of them.
     */
    @NamedComponent("mediamon_russian_light")
    public static final class RussianLight implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new Analyzer() {
                @Override
                protected TokenStreamComponents createComponents(String fieldName) {
                    Tokenizer source = new StandardTokenizer();
                    TokenStream result = new LowerCaseFilter(source);
                    result = new StopFilter(result, RussianAnalyzer.getDefaultStopSet());
                    result = new RussianLightStemFilter(result);
                    return new TokenStreamComponents(source, result);
                }
            };
        }
    }
}
