using System.Text.Json;

namespace LlmKit.ModelBuilder.HuggingFace;

/// <summary>
/// Writes <c>genai_config.json</c> for a converted Hugging Face decoder, with the field names and layout of the
/// official onnxruntime-genai builder (model.type from the architecture, head_size, eos ids, sliding_window).
/// </summary>
internal static class HfGenAiConfigWriter
{
    public static void Write(string path, HfDecoderSpec s, int contextLength, string modelFile)
    {
        bool positionIds = HfGraphEmitter.UsesPositionIds(s);
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("model");
        json.WriteNumber("bos_token_id", s.BosTokenId ?? 0);
        json.WriteNumber("context_length", contextLength);
        json.WriteStartObject("decoder");
        json.WriteStartObject("session_options");
        json.WriteString("log_id", "onnxruntime-genai");
        json.WriteStartArray("provider_options");
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteString("filename", modelFile);
        json.WriteNumber("head_size", s.HeadDim);
        json.WriteNumber("hidden_size", s.Hidden);
        json.WriteStartObject("inputs");
        json.WriteString("input_ids", "input_ids");
        json.WriteString("attention_mask", "attention_mask");
        if (positionIds)
        {
            json.WriteString("position_ids", "position_ids");
        }

        json.WriteString("past_key_names", "past_key_values.%d.key");
        json.WriteString("past_value_names", "past_key_values.%d.value");
        json.WriteEndObject();
        json.WriteStartObject("outputs");
        json.WriteString("logits", "logits");
        json.WriteString("present_key_names", "present.%d.key");
        json.WriteString("present_value_names", "present.%d.value");
        json.WriteEndObject();
        json.WriteNumber("num_attention_heads", s.Heads);
        json.WriteNumber("num_hidden_layers", s.Layers);
        json.WriteNumber("num_key_value_heads", s.KvHeads);
        if (s.WholeModelWindow)
        {
            // Every layer attends through the window, so a runtime may keep only the last window_size positions.
            // Gemma2's alternating window is left out: its global layers need the whole context.
            json.WriteStartObject("sliding_window");
            json.WriteNumber("window_size", s.SlidingWindow!.Value);
            json.WriteBoolean("slide_key_value_cache", false);
            json.WriteBoolean("slide_inputs", false);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        if (s.EosTokenIds.Length == 1)
        {
            json.WriteNumber("eos_token_id", s.EosTokenIds[0]);
        }
        else
        {
            json.WriteStartArray("eos_token_id");
            foreach (int id in s.EosTokenIds)
            {
                json.WriteNumberValue(id);
            }

            json.WriteEndArray();
        }

        json.WriteNumber("pad_token_id", s.PadTokenId ?? s.EosTokenIds[0]);
        json.WriteString("type", s.ModelType);
        json.WriteNumber("vocab_size", s.VocabSize);
        json.WriteEndObject();

        json.WriteStartObject("search");
        json.WriteBoolean("do_sample", false);
        json.WriteBoolean("early_stopping", true);
        json.WriteNumber("length_penalty", 1.0);
        json.WriteNumber("max_length", contextLength);
        json.WriteNumber("min_length", 0);
        json.WriteNumber("no_repeat_ngram_size", 0);
        json.WriteNumber("num_beams", 1);
        json.WriteNumber("num_return_sequences", 1);
        json.WriteBoolean("past_present_share_buffer", HfGraphEmitter.SharesKvBuffers(s));
        json.WriteNumber("repetition_penalty", 1.0);
        json.WriteNumber("temperature", 1.0);
        json.WriteNumber("top_k", 1);
        json.WriteNumber("top_p", 1.0);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
