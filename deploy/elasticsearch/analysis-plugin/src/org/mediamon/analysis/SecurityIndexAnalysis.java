package org.mediamon.analysis;

import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.lucene.analysis.TokenFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.PositionIncrementAttribute;
import org.elasticsearch.plugin.Inject;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;
import org.elasticsearch.plugin.analysis.TokenizerFactory;
import org.elasticsearch.plugin.settings.AnalysisSettings;
import org.elasticsearch.plugin.settings.BooleanSetting;
import org.elasticsearch.plugin.settings.ListSetting;

/**
 * The three analysis components the x-pack security index (.security-7) names in its settings
 * (its "email" analyzer: tokenizer uax_url_email, filters pattern_capture, lowercase, unique).
 * They live in analysis-common, which the integ-test-zip lacks; without them Elasticsearch
 * cannot create the index, so no native role, user or API key can be made on the local server.
 * With them, `mediamon setup security` runs against the local stack exactly as in production.
 * Each is Lucene's component with the settings that index uses; other settings of the
 * built-in components (max_token_length, only_on_same_position) are not supported.
 */
public final class SecurityIndexAnalysis {
    private SecurityIndexAnalysis() {}

    @AnalysisSettings
    public interface PatternCaptureSettings {
        @ListSetting(path = "patterns")
        List<String> patterns();

        @BooleanSetting(path = "preserve_original", defaultValue = true)
        boolean preserveOriginal();
    }

    @NamedComponent("pattern_capture")
    public static final class PatternCapture implements TokenFilterFactory {
        private final Pattern[] patterns;
        private final boolean preserveOriginal;

        @Inject
        public PatternCapture(PatternCaptureSettings settings) {
            List<String> sources = settings.patterns();
            // Elasticsearch also builds each component once without settings (no patterns):
            // that instance passes tokens through
            this.patterns =
                    sources == null
                            ? new Pattern[0]
                            : sources.stream().map(Pattern::compile).toArray(Pattern[]::new);
            this.preserveOriginal = settings.preserveOriginal();
        }

        @Override
        public TokenStream create(TokenStream input) {
            if (patterns.length == 0) {
                return input;
            }
            return new PatternCaptureGroupTokenFilter(input, preserveOriginal, patterns);
        }
    }

    @NamedComponent("uax_url_email")
    public static final class UaxUrlEmail implements TokenizerFactory {
        @Override
        public Tokenizer create() {
            return new UAX29URLEmailTokenizer();
        }
    }

    /** Drops a token whose text was seen before in the stream, as the built-in `unique`. */
    @NamedComponent("unique")
    public static final class Unique implements TokenFilterFactory {
        @Override
        public TokenStream create(TokenStream input) {
            return new UniqueFilter(input);
        }
    }

    static final class UniqueFilter extends TokenFilter {
        private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
        private final PositionIncrementAttribute position =
                addAttribute(PositionIncrementAttribute.class);
        private final Set<String> seen = new HashSet<>();

        UniqueFilter(TokenStream input) {
            super(input);
        }

        @Override
        public boolean incrementToken() throws IOException {
            int skipped = 0;
            while (input.incrementToken()) {
                if (seen.add(term.toString())) {
                    position.setPositionIncrement(position.getPositionIncrement() + skipped);
                    return true;
                }
                skipped += position.getPositionIncrement();
            }
            return false;
        }

        @Override
        public void reset() throws IOException {
            super.reset();
            seen.clear();
        }
    }
}
