package org.mediamon.analysis;

import org.apache.lucene.analysis.Analyzer;
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
}
