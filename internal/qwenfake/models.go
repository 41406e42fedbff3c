package qwenfake

import "net/http"

// modelsCreatedAt is the fixed info.created_at of every listed model.
const modelsCreatedAt = 1757000000

// modelJSON is one element of the model listing, shaped like §2.6.
func modelJSON(m *Model) map[string]any {
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	chatTypes := m.ChatTypes
	if chatTypes == nil {
		chatTypes = []string{"t2t"}
	}
	return map[string]any{
		"id": m.ID, "name": m.Name, "object": "model", "owned_by": "qwen",
		"info": map[string]any{
			"id": m.ID, "name": m.Name, "created_at": modelsCreatedAt, "updated_at": modelsCreatedAt,
			"is_active": true, "params": map[string]any{},
			"meta": map[string]any{
				"short_description": m.Name + " (qwenfake)",
				"capabilities": map[string]any{
					"vision": m.Vision, "document": true, "video": m.Vision, "audio": false,
					"citations": true, "thinking": m.Thinking, "thinking_budget": m.Thinking,
				},
				"abilities": map[string]any{
					"vision": b2i(m.Vision), "document": 1, "video": b2i(m.Vision), "audio": 0,
					"citations": 1, "thinking": b2i(m.Thinking),
				},
				"max_context_length":             m.MaxContext,
				"max_generation_length":          32768,
				"max_thinking_generation_length": 81920,
				"max_summary_generation_length":  32768,
				"chat_type":                      chatTypes,
				"mcp":                            []string{"image-generation", "code-interpreter"},
				"modality":                       []string{"text"},
				"is_single_round":                0,
				"file_limits":                    map[string]any{},
				// Only the qwen3.8 family disables it (§11.3); the others
				// allow skipping the thinking phase.
				"think_skip": map[string]any{"enable": !m.ThinkingRequired},
			},
		},
	}
}

func (s *Server) modelList() []any {
	list := make([]any, len(s.opts.Models))
	for i := range s.opts.Models {
		list[i] = modelJSON(&s.opts.Models[i])
	}
	return list
}

// handleModels serves GET /api/models: {"data":[…]}.
func (s *Server) handleModels(w http.ResponseWriter, r *http.Request, _ string) {
	s.writeJSON(w, r, map[string]any{"data": s.modelList()})
}

// handleModelsV2 serves GET /api/v2/models/: {"success":true,"data":{"data":[…]}}.
func (s *Server) handleModelsV2(w http.ResponseWriter, r *http.Request, _ string) {
	s.writeJSON(w, r, map[string]any{"success": true, "request_id": newUUID(), "data": map[string]any{"data": s.modelList()}})
}
